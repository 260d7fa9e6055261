// The seam of the layer cache in the step loop: a step's key, a lookup, and a store. One per stage (keys chain
// from the stage's base through every step). noStepCache misses every step, so every step executes.
import type { Instruction } from "../dockerfile/mod.ts";
import type { Layer } from "../image/mod.ts";
import type { StageState } from "../instructions/mod.ts";

/** What a step leaves behind: the state after it, its layer (none when no file changed), its history text. */
export interface StepOutcome {
  state: StageState;
  layer: Layer | undefined;
  /** `created_by` of its history entry; undefined: no entry (ONBUILD). */
  createdBy: string | undefined;
  /** Where an executed step's time went (absent for a cache hit). */
  phases?: StepPhases;
}

export interface StepPhases {
  executeMs: number;
  /** The snapshot's walk and diff, when the step took one. */
  walkMs?: number;
  /** Writing its layer: tar and compression. */
  writeMs?: number;
}

export interface StepCache {
  /**
   * The step's cache key, from the expanded instruction and the state before it; undefined: not cacheable. Called
   * for every step in order, cacheable or not, so each key covers everything before it.
   */
  key(instr: Instruction, state: StageState): Promise<string | undefined>;
  /** A hit: the step's layer and history text (a cached step changes files, not the config: the state stays). */
  get(key: string): Promise<Pick<StepOutcome, "layer" | "createdBy"> | undefined>;
  /** Stores the step's outcome; may return before the store is done (the build waits for stores at its end). */
  put(key: string, step: StepOutcome): Promise<void>;
  /** The key of the stage so far (after its last step): what a later stage FROM or COPY --from this one builds on. */
  readonly head: string | undefined;
}

export const noStepCache: StepCache = {
  key: async () => undefined,
  get: async () => undefined,
  put: async () => {},
  head: undefined,
};
