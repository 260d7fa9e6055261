// Which stages a build needs: the target and, transitively, every stage it names in FROM or COPY --from.
import type { Dockerfile, Stage } from "../dockerfile/mod.ts";
import { BuildError } from "./errors.ts";

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

/**
 * Indexes of the stages needed to build `target`, ascending. `baseOf` gives a stage's expanded FROM image;
 * `copyFroms` its raw COPY --from values (names, indexes or image references).
 */
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
