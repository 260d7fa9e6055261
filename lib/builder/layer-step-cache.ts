// The layer cache in the step loop (--cache): each stage's steps chain keys from the stage's base; a cacheable
// step (RUN, and COPY/ADD with --cache-copy-layers) is looked up under its key and, on a miss, its layer is
// stored in the background. A store that fails is one warning: a cache never fails a build.
import type { Instruction } from "../dockerfile/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { LayerCache } from "../cache/mod.ts";
import type { StageState } from "../instructions/mod.ts";
import type { StepCache, StepOutcome } from "./step-cache.ts";

/**
 * The key of one step from its parent's key (see lib/cache's stepKey for what it covers); undefined when an input
 * cannot be known without running the step (an ADD of a URL without --checksum): the stage is not cached from there.
 */
export type StepKeyFunction = (parent: string, instr: Instruction, state: StageState) => Promise<string | undefined>;

export interface BuildCacheOptions {
  store: LayerCache;
  /** --cache-run-layers (kaniko's default: true). */
  runLayers: boolean;
  /** --cache-copy-layers (kaniko's default: false). */
  copyLayers: boolean;
  /** false with --no-push-cache: read the cache, never write it. */
  write: boolean;
  logger: Logger;
}

/** Where a build's cache time went, summed over its stages (stages may overlap, so the sums can exceed wall time). */
export interface CacheTimings {
  steps: number;
  keyMs: number;
  probes: number;
  probeMs: number;
  hits: number;
}

/** The cache of one build: a StepCache per stage, and the stores still going. */
export class BuildCache {
  readonly #o: BuildCacheOptions;
  readonly #stores: Promise<void>[] = [];
  readonly timings: CacheTimings = { steps: 0, keyMs: 0, probes: 0, probeMs: 0, hits: 0 };

  constructor(o: BuildCacheOptions) {
    this.#o = o;
  }

  /** The step cache of a stage whose base has key `baseKey` (undefined: the base has none; nothing is cached). */
  forStage(baseKey: string | undefined, stepKey: StepKeyFunction): StepCache {
    return new StageSteps(this.#o, stepKey, baseKey, (p) => this.#stores.push(p), this.timings);
  }

  /** Waits for every store started so far (each already turned its failure into a warning), then logs the timings. */
  async flush(): Promise<void> {
    const started = performance.now();
    while (this.#stores.length) await Promise.all(this.#stores.splice(0));
    // One line for benchmarks and slow-build reports (scripts/bench/cache-rebuild.ts parses it).
    const t = this.timings;
    this.#o.logger.debug(`cache: ${t.steps} steps, keys ${t.keyMs.toFixed(1)} ms, probes ${t.probeMs.toFixed(1)} ms `
      + `(${t.probes} probes, ${t.hits} hits), waiting for stores ${(performance.now() - started).toFixed(1)} ms`);
  }
}

class StageSteps implements StepCache {
  #head: string | undefined;

  constructor(
    private readonly o: BuildCacheOptions,
    private readonly stepKey: StepKeyFunction,
    baseKey: string | undefined,
    private readonly track: (store: Promise<void>) => void,
    private readonly timings: CacheTimings,
  ) {
    this.#head = baseKey;
  }

  get head(): string | undefined {
    return this.#head;
  }

  async key(instr: Instruction, state: StageState): Promise<string | undefined> {
    // Every step moves the chain, cached or not: a key covers all the steps before it. Once broken, it stays so.
    if (this.#head === undefined) return undefined;
    const started = performance.now();
    this.#head = await this.stepKey(this.#head, instr, state);
    this.timings.steps++;
    this.timings.keyMs += performance.now() - started;
    return this.#head !== undefined && this.#cacheable(instr) ? this.#head : undefined;
  }

  #cacheable(instr: Instruction): boolean {
    if (instr.kind === "RUN") return this.o.runLayers;
    // An ADD of a URL without --checksum has no key (stepKeys): it runs, as kaniko does.
    if (instr.kind === "COPY" || instr.kind === "ADD") return this.o.copyLayers;
    return false;
  }

  async get(key: string): Promise<Pick<StepOutcome, "layer" | "createdBy"> | undefined> {
    let entry;
    const started = performance.now();
    try {
      entry = await this.o.store.get(key);
    } catch (e) {
      this.o.logger.warn(`cache ${this.o.store.name}: looking up ${key.slice(0, 12)} failed, building the step: ${(e as Error).message}`);
      return undefined;
    } finally {
      this.timings.probes++;
      this.timings.probeMs += performance.now() - started;
    }
    if (!entry) return undefined;
    this.timings.hits++;
    return { layer: entry.layer, createdBy: entry.createdBy };
  }

  async put(key: string, step: StepOutcome): Promise<void> {
    if (!this.o.write || step.createdBy === undefined) return;
    const store = this.o.store;
    const log = this.o.logger;
    this.track(store.put(key, { ...(step.layer ? { layer: step.layer } : {}), createdBy: step.createdBy }).then(
      () => log.debug(`cache ${store.name}: stored ${key.slice(0, 12)}`),
      (e) => log.warn(`cache ${store.name}: storing a layer failed (the build goes on without it): ${(e as Error).message}`),
    ));
  }
}
