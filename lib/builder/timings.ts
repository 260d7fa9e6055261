// Where a build's time went: per step, per stage, outputs and total. The summary is logged at the end of a
// build (stages and total at info, steps at debug) and returned for kaniko's BENCHMARK_FILE.
import type { Layer } from "../image/mod.ts";
import type { Logger } from "../log/mod.ts";

export interface StepTiming {
  /** The expanded instruction, clipped. */
  instruction: string;
  ms: number;
  /** Answered by the layer cache. */
  cached: boolean;
  /** Where it went: expansion, execution, the snapshot's walk and diff, writing its layer (absent when not taken). */
  expandMs?: number;
  executeMs?: number;
  walkMs?: number;
  writeMs?: number;
}

export type StepParts = Partial<Pick<StepTiming, "expandMs" | "executeMs" | "walkMs" | "writeMs">>;

export interface StageTiming {
  index: number;
  name?: string;
  /** From the start of the stage (base resolution included) to its last step. */
  ms: number;
  steps: StepTiming[];
}

/** What BENCHMARK_FILE holds (milliseconds; stages may overlap, as independent ones build in parallel). */
export interface BuildTimingsReport {
  totalMs: number;
  /** Pushes and local outputs (tarball, OCI layout, digest files). */
  outputsMs: number;
  stages: StageTiming[];
}

export interface StageTimer {
  /** One step, timed from before its expansion to after its snapshot (or cache hit). */
  step(instruction: string, startedAt: number, cached: boolean, layer?: Layer, parts?: StepParts): void;
}

const round = (ms: number) => Math.round(ms * 10) / 10;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

export class BuildTimings {
  readonly #started = performance.now();
  readonly #stages: StageTiming[] = [];
  readonly #log: Logger;
  // Checked once: the step loop should not build trace text nobody reads.
  readonly #trace: boolean;
  #outputsMs = 0;

  constructor(log: Logger) {
    this.#log = log;
    this.#trace = log.enabled("trace");
  }

  /** Times `run` as stage `index`; its steps report through the timer it is given. */
  async stage<T>(index: number, name: string | undefined, run: (timer: StageTimer) => Promise<T>): Promise<T> {
    const started = performance.now();
    const timing: StageTiming = { index, ...(name ? { name } : {}), ms: 0, steps: [] };
    const timer: StageTimer = {
      step: (instruction, startedAt, cached, layer, parts = {}) => {
        const ms = performance.now() - startedAt;
        const split = Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, round(v!)]));
        timing.steps.push({ instruction: instruction.slice(0, 120), ms: round(ms), cached, ...split });
        if (this.#trace) {
          this.#log.trace(`step done: ${instruction.slice(0, 80)}`, {
            ms: round(ms), cached, ...(layer ? { layer: layer.digest, bytes: layer.size } : { layer: "none" }),
          });
        }
      },
    };
    try {
      return await run(timer);
    } finally {
      timing.ms = round(performance.now() - started);
      this.#stages.push(timing);
    }
  }

  async outputs<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.#outputsMs = round(performance.now() - started);
    }
  }

  report(): BuildTimingsReport {
    return {
      totalMs: round(performance.now() - this.#started),
      outputsMs: this.#outputsMs,
      stages: [...this.#stages].sort((a, b) => a.index - b.index),
    };
  }

  /** Logs the summary and returns what it summarised. */
  summarize(): BuildTimingsReport {
    const r = this.report();
    const log = this.#log;
    for (const s of r.stages) {
      const cached = s.steps.filter((st) => st.cached).length;
      log.info(`Stage ${s.index}${s.name ? ` (${s.name})` : ""}: ${seconds(s.ms)}, ${s.steps.length} step${s.steps.length === 1 ? "" : "s"}${cached ? ` (${cached} cached)` : ""}`);
      for (const st of s.steps) {
        const split = [["expand", st.expandMs], ["execute", st.executeMs], ["walk", st.walkMs], ["layer", st.writeMs]]
          .filter(([, v]) => v !== undefined && (v as number) >= 1).map(([k, v]) => `${k} ${seconds(v as number)}`).join(", ");
        log.debug(`  ${seconds(st.ms).padStart(8)}  ${st.instruction}${st.cached ? " (cached)" : ""}${split ? `  [${split}]` : ""}`);
      }
    }
    if (r.outputsMs > 0) log.info(`Outputs (push, files): ${seconds(r.outputsMs)}`);
    log.info(`Build took ${seconds(r.totalMs)}`);
    return r;
  }
}
