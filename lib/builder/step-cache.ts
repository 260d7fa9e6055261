// The seam of the layer cache in the step loop: a step's key, a lookup, and a store. There is no cache yet:
// noStepCache misses every step, so every step executes.
import type { Instruction } from "../dockerfile/mod.ts";
import type { Layer } from "../image/mod.ts";
import type { StageState } from "../instructions/mod.ts";

/** What a step leaves behind: the state after it, its layer (none when no file changed), its history text. */
export interface StepOutcome {
  state: StageState;
  layer: Layer | undefined;
  /** `created_by` of its history entry; undefined: no entry (ONBUILD). */
  createdBy: string | undefined;
}

export interface StepCache {
  /** The step's cache key, from the expanded instruction and the state before it; undefined: not cacheable. */
  key(instr: Instruction, state: StageState): Promise<string | undefined>;
  get(key: string): Promise<StepOutcome | undefined>;
  put(key: string, step: StepOutcome): Promise<void>;
}

export const noStepCache: StepCache = {
  key: async () => undefined,
  get: async () => undefined,
  put: async () => {},
};
