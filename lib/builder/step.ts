// One step of a stage that the cache did not answer: expand, execute against the root, snapshot what changed.
import type { Dockerfile, Instruction } from "../dockerfile/mod.ts";
import { DockerfileError, expandInstruction } from "../dockerfile/mod.ts";
import type { Layer } from "../image/mod.ts";
import { ContextError } from "../context/mod.ts";
import {
  execute, InstructionError, lookupFor, RunFailedError, traits, type Changes, type StageState, type StepContext,
} from "../instructions/mod.ts";
import { UserLookupError, type RootFS, type SnapshotOptions } from "../rootfs/mod.ts";
import { BuildError } from "./errors.ts";
import type { StageRoot } from "./root.ts";
import type { StepOutcome } from "./step-cache.ts";

/** Expands `raw` in the stage's current scope; a failure names the file and line. */
export function expandStep(raw: Instruction, state: StageState, df: Dockerfile): Instruction {
  try {
    return expandInstruction(raw, lookupFor(state), df.escape, df.file);
  } catch (e) {
    const where = { file: df.file, line: raw.line };
    // A DockerfileError names the file, the line and the word (clipped: a generated line can be megabytes).
    if (e instanceof DockerfileError) throw new BuildError(e.message, where);
    throw new BuildError(`${df.file}:${raw.line}: ${raw.original.slice(0, 200)}: ${(e as Error).message}`, where);
  }
}

export interface StepRunnerOptions {
  df: Dockerfile;
  root: StageRoot;
  /** The same for every step of the stage. */
  ctx: StepContext;
  /** One layer per stage, taken after its last step. */
  singleSnapshot: boolean;
  snapshot: Omit<SnapshotOptions, "paths">;
}

export class StepRunner {
  readonly #o: StepRunnerOptions;

  constructor(o: StepRunnerOptions) {
    this.#o = o;
  }

  /** Executes the expanded `instr` and snapshots its changes; `last`: the stage's last step. */
  async run(instr: Instruction, state: StageState, last: boolean): Promise<StepOutcome> {
    const { root } = this.#o;
    const fs = instr.kind !== "FROM" && traits[instr.kind].needsRootfs ? await root.get() : undefined;
    const started = performance.now();
    const result = await this.#execute(instr, state);
    const executeMs = performance.now() - started;
    let snap: { walkMs: number; writeMs: number } | undefined;
    const layer = await this.#snapshot(fs, result.changes, last, (t) => (snap = t));
    return { state: result.state, layer, createdBy: result.createdBy, phases: { executeMs, ...(snap ? { walkMs: snap.walkMs, writeMs: snap.writeMs } : {}) } };
  }

  async #execute(instr: Instruction, state: StageState) {
    const { df, ctx } = this.#o;
    try {
      return await execute(instr, state, ctx);
    } catch (e) {
      if (e instanceof RunFailedError) throw e;
      // What the Dockerfile asks for cannot be done: reported at its line.
      if (e instanceof InstructionError || e instanceof DockerfileError || e instanceof ContextError || e instanceof UserLookupError) {
        throw new BuildError(`${df.file}:${instr.line}: ${e.message}`, { file: df.file, line: instr.line });
      }
      throw e;
    }
  }

  async #snapshot(fs: RootFS | undefined, changes: Changes, last: boolean, timings: SnapshotOptions["timings"]): Promise<Layer | undefined> {
    const { singleSnapshot, root } = this.#o;
    const snapshot = { ...this.#o.snapshot, timings };
    if (singleSnapshot) {
      // One full scan after the last step, whether or not that step touched files itself.
      const current = root.current;
      return last && current ? current.snapshot(snapshot) : undefined;
    }
    if (!fs || changes.kind === "none") return undefined;
    return fs.snapshot({ ...snapshot, ...(changes.kind === "paths" ? { paths: changes.paths } : {}) });
  }
}
