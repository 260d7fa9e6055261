// --platform a,b: the Dockerfile built once per target platform. Stages whose result cannot depend on the target
// (the cross-compilation pattern: FROM --platform=$BUILDPLATFORM, no TARGET* ARG) build once and are shared; a
// RUN for a platform this CPU cannot run needs a binfmt_misc handler, checked before anything is pulled or run.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Dockerfile, Stage } from "../dockerfile/mod.ts";
import { formatPlatform, hostPlatform, parsePlatform, type Platform } from "../image/mod.ts";
import { checkEmulation, registerHint } from "../sandbox/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { BuildOptions } from "./options.ts";
import { BuildError } from "./errors.ts";
import { findStage, type BuildPlan } from "./plan.ts";

const TARGET_ARGS = new Set(["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"]);

/** The stages of `df` every plan builds alike: the same FROM, a pinned platform, and nothing of the target in them. */
export function sharedStages(df: Dockerfile, plans: readonly BuildPlan[]): Set<number> {
  const shared = new Set<number>();
  if (plans.length < 2) return shared;
  const [first, ...rest] = plans;
  for (const i of first.order) {
    const s = df.stages[i];
    const from = first.baseOf(s);
    if (!rest.every((p) => p.order.includes(i) && sameBase(p.baseOf(s), from))) continue;
    if (declaresTargetArg(s)) continue;
    const baseStage = findStage(df, from.image, i);
    // A stage FROM an image without --platform takes the target's platform; FROM an earlier stage, that stage's.
    if (baseStage ? !shared.has(baseStage.index) : from.platform === undefined) continue;
    // An image named by COPY --from or RUN --mount from= is pulled for the target platform.
    if (!fromRefs(s).every((ref) => { const d = findStage(df, ref, i); return d !== undefined && shared.has(d.index); })) continue;
    shared.add(i);
  }
  return shared;
}

function sameBase(a: { image: string; platform?: string }, b: { image: string; platform?: string }): boolean {
  return a.image === b.image && a.platform === b.platform;
}

function declaresTargetArg(s: Stage): boolean {
  return s.instructions.some((instr) => instr.kind === "ARG" && instr.args.some((a) => TARGET_ARGS.has(a.name)));
}

function fromRefs(s: Stage): string[] {
  const refs: string[] = [];
  for (const instr of s.instructions) {
    if (instr.kind === "COPY" && instr.from !== undefined) refs.push(instr.from);
    if (instr.kind === "RUN") for (const m of instr.mounts) if (m.from !== undefined) refs.push(m.from);
  }
  return refs;
}

/** The platform a stage's steps run for: its FROM --platform, else the target's. */
export function stagePlatform(plan: BuildPlan, s: Stage, target: Platform): Platform {
  const p = plan.baseOf(s).platform;
  return p ? parsePlatform(p) : target;
}

/**
 * Fails before the build starts when a stage with a RUN targets an architecture this CPU does not run and no
 * binfmt_misc handler claims its executables. `skip`: stages that do not run for this plan (shared ones run once,
 * natively). A handler without the F flag is looked up by path inside the build root at each exec: a warning.
 */
export function checkForeignRuns(df: Dockerfile, plan: BuildPlan, target: Platform, logger: Logger, skip: ReadonlySet<number> = new Set(), binfmtDir?: string): void {
  const host = hostPlatform().architecture;
  const seen = new Set<string>();
  for (const i of plan.order) {
    const s = df.stages[i];
    if (skip.has(i) || !s.instructions.some((instr) => instr.kind === "RUN")) continue;
    const p = stagePlatform(plan, s, target);
    if (seen.has(p.architecture)) continue;
    seen.add(p.architecture);
    const check = checkEmulation(host, p.architecture, binfmtDir);
    const run = s.instructions.find((instr) => instr.kind === "RUN")!;
    if (check.kind === "none") {
      throw new BuildError(
        `${df.file}:${run.line}: RUN for platform ${formatPlatform(p)} needs emulation of ${p.architecture} on this ${host} machine, and no binfmt_misc handler is registered for it: ${registerHint(p.architecture)} (kiln never registers one itself)`,
        { file: df.file, line: run.line },
      );
    }
    if (check.kind === "unknown") logger.warn(`RUN for platform ${formatPlatform(p)} on this ${host} machine needs a binfmt_misc handler, and ${check.why}: if none is registered on the host, the RUN fails with "exec format error"`);
    if (check.kind === "handler" && !check.handler.fixBinary) {
      logger.warn(`the binfmt_misc handler ${check.handler.name} for ${p.architecture} lacks the F flag, so the kernel looks for ${check.handler.interpreter} inside the build root and RUN fails unless the image has it; re-register it with F (${registerHint(p.architecture)})`);
    }
  }
}

/** Results of shared stages: the first platform to reach one builds it, the others wait for that build. */
export class SharedStages<T> {
  readonly #indexes: ReadonlySet<number>;
  readonly #built = new Map<number, Promise<T>>();

  constructor(indexes: ReadonlySet<number>) {
    this.#indexes = indexes;
  }

  has(index: number): boolean {
    return this.#indexes.has(index);
  }

  once(index: number, build: () => Promise<T>): Promise<T> {
    let p = this.#built.get(index);
    if (!p) this.#built.set(index, p = build());
    return p;
  }
}

/** A platform's own directory inside the build's: its build roots and unpacked images do not meet another's. */
export function platformWorkDir(workDir: string, p: Platform): string {
  return join(workDir, "platforms", formatPlatform(p).replaceAll("/", "-"));
}

/** Every directory that may hold RUN runtime state (the build's, and each platform's), for abort and clean-up. */
export function runtimeDirs(workDir: string): string[] {
  const dirs = [join(workDir, "runc")];
  const platforms = join(workDir, "platforms");
  if (existsSync(platforms)) for (const name of readdirSync(platforms)) dirs.push(join(platforms, name, "runc"));
  return dirs;
}

/**
 * Runs `build` for each platform: at once in the isolated mode, one after another in place (one "/"). Every
 * platform settles before a failure is thrown (none still writes while the caller cleans up); the first
 * platform's failure wins.
 */
export async function eachPlatform<T>(platforms: readonly Platform[], sequential: boolean, build: (p: Platform) => Promise<T>): Promise<T[]> {
  const runs: Promise<T>[] = [];
  for (const p of platforms) {
    const run = build(p);
    runs.push(run);
    if (sequential) await run;
  }
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Each target platform's options: its own platform in place of options.platform. */
export function platformOptions(options: BuildOptions, p: Platform): BuildOptions {
  return { ...options, platform: p, platforms: undefined };
}
