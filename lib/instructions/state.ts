// What a stage carries from step to step, and what a step hands back.
import type { ImageConfig } from "../image/mod.ts";

export interface StageState {
  /** The image config being built (runtime config in `config.config`). */
  config: ImageConfig;
  /** ARGs in scope for this stage: name -> value (undefined = declared without a value). */
  args: ReadonlyMap<string, string | undefined>;
  /** ARG names in the order this stage declared them, repeats kept: BuildKit lists them all in RUN's history. */
  declaredArgs?: readonly string[];
  /** CMD was set in this stage (then ENTRYPOINT keeps it; an inherited CMD is dropped). */
  cmdSet?: boolean;
}

/** Which paths a step changed: none (metadata only), named paths (COPY, WORKDIR) or unknown (RUN: scan). */
export type Changes = { kind: "none" } | { kind: "paths"; paths: string[] } | { kind: "scan" };

export interface StepResult {
  state: StageState;
  changes: Changes;
  /** `created_by` for the history entry; undefined: no entry (ONBUILD, as in BuildKit). */
  createdBy: string | undefined;
}

/** Proxy ARGs Docker allows without a declaration; passed to RUN but kept out of history. */
export const PROXY_ARGS = new Set([
  "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
]);

/** RUN's history prefix values: each declared ARG with the ENV value of the same name when there is one. */
export function runArgPairs(state: StageState): string[] {
  const env = envMap(state.config);
  return (state.declaredArgs ?? []).map((k) => `${k}=${env.has(k) ? env.get(k) : (state.args.get(k) ?? "")}`);
}

export function envMap(config: ImageConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of config.config.Env ?? []) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1));
  }
  return m;
}

/** Variable lookup for expansion: ENV wins over an ARG of the same name (Dockerfile reference, "Using ARG variables"). */
export function lookupFor(state: StageState): (name: string) => string | undefined {
  const env = envMap(state.config);
  return (name) => (env.has(name) ? env.get(name) : state.args.get(name));
}

/** Sets or replaces variables keeping their order, as Docker does. */
export function setEnv(config: ImageConfig, pairs: { key: string; value: string }[]): ImageConfig {
  const env = [...(config.config.Env ?? [])];
  for (const { key, value } of pairs) {
    const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  }
  return { ...config, config: { ...config.config, Env: env } };
}

export function withRuntime(state: StageState, patch: Partial<ImageConfig["config"]>): StageState {
  return { ...state, config: { ...state.config, config: { ...state.config.config, ...patch } } };
}
