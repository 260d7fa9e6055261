// What a stage carries from step to step, and what a step hands back.
import type { ImageConfig } from "../image/mod.ts";

export interface StageState {
  /** The image config being built (runtime config in `config.config`). */
  config: ImageConfig;
  /** ARGs in scope for this stage: name -> value (undefined = declared without a value). */
  args: ReadonlyMap<string, string | undefined>;
  /** ARG names in the order this stage declared them, repeats kept: BuildKit lists them all in RUN's history. */
  declaredArgs?: readonly string[];
  /**
   * BuildKit's build env on top of the config's Env: each ARG with a value sets its name there (shadowing an ENV
   * set before it) until an ENV of that name sets it again. RUN and expansion read it; the config never holds it;
   * a stage FROM this one starts with it (Docker 20.10's BuildKit: the values, not the declarations).
   */
  argEnv?: ReadonlyMap<string, string>;
  /** CMD was set in this stage (then ENTRYPOINT keeps it; an inherited CMD is dropped). */
  cmdSet?: boolean;
  /**
   * Set by the stage loop, which owns its config (a clone of the base's), hands each state to exactly one step
   * and never reads it again. Steps may then extend Env, Labels, ExposedPorts, Volumes, OnBuild and the ARGs in
   * place: a copy of them per step made a Dockerfile of N such instructions cost N² time. Without it, steps copy.
   */
  linear?: boolean;
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

/** RUN's history prefix values: each declared ARG with its value in the build env (ENV or ARG, the later wins). */
export function runArgPairs(state: StageState): string[] {
  const lookup = lookupFor(state);
  return (state.declaredArgs ?? []).map((k) => `${k}=${lookup(k) ?? ""}`);
}

/** The env a RUN sees: the config's Env with the ARG values of `argEnv` replacing or added after it. */
export function buildEnv(state: StageState): string[] {
  const argEnv = state.argEnv;
  if (!argEnv?.size) return [...(state.config.config.Env ?? [])];
  const env = (state.config.config.Env ?? []).map((e) => (argEnv.has(envKey(e)) ? `${envKey(e)}=${argEnv.get(envKey(e))}` : e));
  const inConfig = new Set(env.map(envKey));
  for (const [k, v] of argEnv) if (!inConfig.has(k)) env.push(`${k}=${v}`);
  return env;
}

export function envMap(config: ImageConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of config.config.Env ?? []) m.set(envKey(e), envValue(e));
  return m;
}

const envKey = (e: string) => {
  const i = e.indexOf("=");
  return i < 0 ? e : e.slice(0, i);
};
const envValue = (e: string) => {
  const i = e.indexOf("=");
  return i < 0 ? "" : e.slice(i + 1);
};

// Where each variable sits in an Env array: the first entry (which ENV replaces) and the last (which lookups
// read, as envMap does). Kept beside the array so a step costs O(1) however long Env has grown; an array
// extended in place (linear states) has its index extended with it.
interface EnvIndex { first: Map<string, number>; last: Map<string, number> }
const envIndexes = new WeakMap<readonly string[], EnvIndex>();

function envIndex(env: readonly string[]): EnvIndex {
  let idx = envIndexes.get(env);
  if (!idx) {
    idx = { first: new Map(), last: new Map() };
    for (const [i, e] of env.entries()) {
      const k = envKey(e);
      if (!idx.first.has(k)) idx.first.set(k, i);
      idx.last.set(k, i);
    }
    envIndexes.set(env, idx);
  }
  return idx;
}

/**
 * Variable lookup for expansion, as BuildKit's build env: an ARG's value wins over an ENV set before it, an ENV
 * over an ARG declared before it (Dockerfile reference, "Using ARG variables").
 */
export function lookupFor(state: StageState): (name: string) => string | undefined {
  const env = state.config.config.Env ?? [];
  const { last } = envIndex(env);
  const argEnv = state.argEnv;
  return (name) => {
    const a = argEnv?.get(name);
    if (a !== undefined) return a;
    const i = last.get(name);
    return i !== undefined ? envValue(env[i]) : state.args.get(name);
  };
}

/** After ENV sets `keys`: those names leave the ARG layer of the build env (the ENV value wins from here on). */
export function withoutArgEnv(state: StageState, keys: string[]): StageState {
  const argEnv = state.argEnv;
  if (!argEnv || !keys.some((k) => argEnv.has(k))) return state;
  const next = state.linear ? (argEnv as Map<string, string>) : new Map(argEnv);
  for (const k of keys) next.delete(k);
  return { ...state, argEnv: next };
}

/** Sets or replaces variables keeping their order, as Docker does; in place when `inPlace` (a linear state). */
export function setEnv(config: ImageConfig, pairs: { key: string; value: string }[], inPlace = false): ImageConfig {
  const env = inPlace && config.config.Env ? config.config.Env : [...(config.config.Env ?? [])];
  const idx = envIndex(env);
  for (const { key, value } of pairs) {
    const i = idx.first.get(key);
    if (i !== undefined) env[i] = `${key}=${value}`;
    else {
      idx.first.set(key, env.length);
      idx.last.set(key, env.length);
      env.push(`${key}=${value}`);
    }
  }
  return { ...config, config: { ...config.config, Env: env } };
}

export function withRuntime(state: StageState, patch: Partial<ImageConfig["config"]>): StageState {
  return { ...state, config: { ...state.config, config: { ...state.config.config, ...patch } } };
}
