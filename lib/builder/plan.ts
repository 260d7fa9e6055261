// Which stages a build needs: the target and, transitively, every stage it names in FROM or COPY --from.
import type { Dockerfile, ResolvedBase, Stage } from "../dockerfile/mod.ts";
import { resolveMetaArgs, resolveStageBase } from "../dockerfile/mod.ts";
import { formatPlatform, hostPlatform, type Platform } from "../image/mod.ts";
import { PROXY_ARGS } from "../instructions/mod.ts";
import type { BuildOptions } from "./options.ts";
import { BuildError } from "./errors.ts";

export interface BuildPlan {
  /** Meta ARG values (before the first FROM), with --build-arg values and BuildKit's platform ARGs. */
  metaArgs: ReadonlyMap<string, string | undefined>;
  /** A stage's FROM with the meta ARGs expanded: the image (or stage) name and --platform. */
  baseOf(stage: Stage): ResolvedBase;
  target: Stage;
  /** Indexes of the stages to build, ascending: those the target needs (as BuildKit), or all up to it (skipUnusedStages false). */
  order: number[];
  /** Earlier stages a stage waits for (FROM, COPY --from, RUN --mount from=). */
  depsOf(stage: Stage): number[];
  /**
   * Whether the stage's layers can leave the build: the target and the stages it is FROM (transitively). The
   * others only feed COPY --from and RUN --mount from=, whose files are read back inside this build.
   */
  layersLeave(stage: Stage): boolean;
}

/** Plans the build of `df`; warns about --build-arg values no needed stage declares. */
export function planBuild(df: Dockerfile, options: Pick<BuildOptions, "buildArgs" | "platform" | "target" | "logger" | "skipUnusedStages">): BuildPlan {
  const metaArgs = resolveMetaArgs(df, definedArgs(options.buildArgs), platformArgs(options.platform));
  const bases = new Map<Stage, ResolvedBase>();
  const baseOf = (s: Stage) => {
    let b = bases.get(s);
    if (!b) bases.set(s, b = resolveStageBase(s, metaArgs, { escape: df.escape, file: df.file }));
    return b;
  };
  const imageOf = (s: Stage) => baseOf(s).image;
  const target = targetStage(df, options.target);
  const order = options.skipUnusedStages === false ? df.stages.slice(0, target.index + 1).map((s) => s.index) : neededStages(df, target, imageOf);
  warnUnusedBuildArgs(df, order, options);
  const leaving = baseChain(df, target, imageOf);
  return { metaArgs, baseOf, target, order, depsOf: (s) => stageDeps(df, s, imageOf), layersLeave: (s) => leaving.has(s.index) };
}

/** `target` and the earlier stages it is built FROM, one after another: the stages whose layers its image holds. */
export function baseChain(df: Dockerfile, target: Stage, baseOf: (s: Stage) => string): Set<number> {
  const chain = new Set<number>();
  for (let s: Stage | undefined = target; s && !chain.has(s.index); s = findStage(df, baseOf(s), s.index)) chain.add(s.index);
  return chain;
}

/** BuildKit's automatic platform ARGs, visible to FROM lines and to stages that declare them. */
function platformArgs(target: Platform): Record<string, string> {
  const host = hostPlatform();
  return {
    TARGETPLATFORM: formatPlatform(target), TARGETOS: target.os, TARGETARCH: target.architecture, TARGETVARIANT: target.variant ?? "",
    BUILDPLATFORM: formatPlatform(host), BUILDOS: host.os, BUILDARCH: host.architecture, BUILDVARIANT: host.variant ?? "",
  };
}

function definedArgs(buildArgs: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(buildArgs).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Docker's warning for --build-arg values no stage declared. */
function warnUnusedBuildArgs(df: Dockerfile, order: number[], options: Pick<BuildOptions, "buildArgs" | "logger">): void {
  const declared = new Set<string>();
  for (const m of df.metaArgs) for (const a of m.args) declared.add(a.name);
  for (const i of order) for (const instr of df.stages[i].instructions) if (instr.kind === "ARG") for (const a of instr.args) declared.add(a.name);
  const unused = Object.keys(options.buildArgs).filter((k) => !declared.has(k) && !PROXY_ARGS.has(k));
  if (unused.length) options.logger.warn(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed`);
}

/** Finds a stage by name (case-insensitive) or index, among those before `before`. */
export function findStage(df: Dockerfile, ref: string, before = df.stages.length): Stage | undefined {
  const lower = ref.toLowerCase();
  const byName = df.stages.slice(0, before).find((s) => s.name === lower);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i < before) return df.stages[i];
  }
  return undefined;
}

/** Earlier stages `s` uses: its FROM, COPY --from and RUN --mount from= (names or indexes; images are not stages). */
export function stageDeps(df: Dockerfile, s: Stage, baseOf: (s: Stage) => string): number[] {
  const deps = new Set<number>();
  const add = (ref: string | undefined) => {
    const d = ref === undefined ? undefined : findStage(df, ref, s.index);
    if (d) deps.add(d.index);
  };
  add(baseOf(s));
  for (const instr of s.instructions) {
    if (instr.kind === "COPY") add(instr.from);
    if (instr.kind === "RUN") for (const m of instr.mounts) add(m.from);
  }
  return [...deps];
}

export function targetStage(df: Dockerfile, target?: string): Stage {
  if (df.stages.length === 0) throw new BuildError(`${df.file}: no FROM instruction: a Dockerfile must have at least one stage`);
  if (target === undefined) return df.stages[df.stages.length - 1];
  const s = df.stages.find((st) => st.name === target.toLowerCase());
  if (!s) {
    const names = df.stages.map((st) => st.name).filter(Boolean);
    throw new BuildError(`--target ${target}: no stage with that name in ${df.file}${names.length ? ` (stages: ${names.join(", ")})` : " (it has no named stages)"}`);
  }
  return s;
}

/** Indexes of the stages needed to build `target`, ascending. `baseOf` gives a stage's expanded FROM image. */
export function neededStages(df: Dockerfile, target: Stage, baseOf: (s: Stage) => string): number[] {
  const need = new Set<number>();
  const visit = (s: Stage) => {
    if (need.has(s.index)) return;
    need.add(s.index);
    for (const d of stageDeps(df, s, baseOf)) visit(df.stages[d]);
  };
  visit(target);
  return [...need].sort((a, b) => a - b);
}
