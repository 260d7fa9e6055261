// Builds one stage from its resolved base: the step loop. Each step is looked up in the step cache by its key;
// a hit appends the cached layer, a miss executes, snapshots, appends and stores.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Dockerfile, Stage } from "../dockerfile/mod.ts";
import type { HistoryEntry, Image, Layer } from "../image/mod.ts";
import { appendLayers, layerMediaType } from "../image/mod.ts";
import { sortedConfig, type MountResources, type StageState, type StepContext } from "../instructions/mod.ts";
import type { BuildContext } from "../context/mod.ts";
import { isolatedIgnorePaths } from "../rootfs/mod.ts";
import type { BuildOptions } from "./options.ts";
import type { InPlaceRoot } from "./inplace.ts";
import { buildClock } from "./clock.ts";
import { onbuildTriggers, withoutTriggers } from "./onbuild.ts";
import { StageRoot } from "./root.ts";
import { noStepCache, type StepCache, type StepOutcome } from "./step-cache.ts";
import { expandStep, StepRunner } from "./step.ts";
import type { StageTimer } from "./timings.ts";

export interface StageResult {
  image: Image;
  /** The stage's build root, filled lazily: only when a step or a later COPY --from needs the files. */
  root: () => Promise<string>;
  /** The cache key after the stage's last step (--cache): what a stage FROM or COPY --from this one builds on. */
  cacheKey?: string;
  /** The ARG values in the build env after the last step: a stage FROM this one starts with them (BuildKit). */
  argEnv?: ReadonlyMap<string, string>;
}

export interface StageInput {
  df: Dockerfile;
  stage: Stage;
  base: Image;
  /** Root of the base when it is an earlier stage (copied instead of re-applying its layers). */
  baseRoot?: () => Promise<string>;
  /** The earlier stage's ARG values in the build env, when the base is an earlier stage. */
  baseArgEnv?: ReadonlyMap<string, string>;
  options: BuildOptions;
  workDir: string;
  buildContext: BuildContext;
  metaArgs: ReadonlyMap<string, string | undefined>;
  fromRoot: (from: string) => Promise<string>;
  /** Cache dirs and secrets behind RUN --mount, shared by every stage of the build. */
  runMounts?: MountResources;
  /** In-place mode: the shared root "/" (RUN runs on it directly, not in a chroot). */
  inPlace?: InPlaceRoot;
  /** In place: where this stage's files are kept for a later stage's COPY --from once the next stage claims "/". */
  keepAs?: string;
  /** Default: none (every step executes). */
  cache?: StepCache;
  timer?: StageTimer;
  /**
   * The stage's layers never leave the build (no output holds them, no layer cache stores them): they are read back
   * only for COPY --from, so they are written as plain tar, with no compression to pay for and undo.
   */
  internal?: boolean;
}

export async function buildStage(input: StageInput): Promise<StageResult> {
  const { df, stage, options, workDir } = input;
  const log = options.logger;
  const cache = input.cache ?? noStepCache;
  const tmpDir = join(workDir, "tmp");
  mkdirSync(tmpDir, { recursive: true });
  const root = new StageRoot({
    dir: join(workDir, "roots", String(stage.index)), base: input.base, baseRoot: input.baseRoot, inPlace: input.inPlace, keepAs: input.keepAs,
    ignorePaths: isolatedIgnorePaths(options.ignorePaths), snapshotMode: options.snapshotMode,
    extractRetries: options.imageFsExtractRetry, logger: log, tmpDir,
  });
  const config = withoutTriggers(input.base.config);
  const image: Image = { ...input.base, config };
  // The stage owns this config, so steps extend its maps in place (StageState.linear): a step's cost does not
  // grow with the number of steps before it.
  // A stage FROM an earlier one has that stage's ARG values in scope (so in its steps' cache keys), undeclared.
  let state: StageState = { config, args: new Map(input.baseArgEnv), argEnv: new Map(input.baseArgEnv), linear: true };
  const clock = buildClock(options);
  const compression = input.internal ? "none" : options.compression;
  const runner = new StepRunner({
    df, root, singleSnapshot: options.singleSnapshot,
    ctx: stepContext(input, root.dir, tmpDir),
    snapshot: {
      compression, level: options.compressionLevel, mediaType: layerMediaType(image.format, compression),
      ...(clock.epoch !== undefined ? { sourceDateEpoch: clock.epoch } : {}),
    },
  });

  const steps = [...onbuildTriggers(input.base.config, df, stage), ...stage.instructions];
  // History entries and layers are appended once, after the last step: a copy of the lists per step was O(N²).
  const appended: { layer: Layer | undefined; history: HistoryEntry }[] = [];
  const append = (step: StepOutcome) => {
    state = step.state;
    // ONBUILD changes the config only and writes no history entry.
    if (step.createdBy !== undefined) appended.push({ layer: step.layer, history: { created: clock.now(), created_by: step.createdBy, comment: "buildkit.dockerfile.v0" } });
  };
  for (const [i, raw] of steps.entries()) {
    const startedAt = performance.now();
    const instr = expandStep(raw, state, df);
    const expandMs = performance.now() - startedAt;
    log.info(instr.original);
    const key = await cache.key(instr, state);
    const hit = key === undefined ? undefined : await cache.get(key);
    if (hit?.layer) root.addCachedLayer(hit.layer);
    if (hit) log.info(`Using cached layer for ${instr.original.slice(0, 80)}${hit.layer ? "" : " (no files changed)"}`);
    const step = hit ? { ...hit, state } : await runner.run(instr, state, i === steps.length - 1);
    if (!hit && key !== undefined) await cache.put(key, step);
    append(step);
    input.timer?.step(instr.original, startedAt, !!hit, step.layer, { expandMs, ...step.phases });
  }
  const built = appendLayers({ ...image, config: sortedConfig(state.config) }, appended);
  // A later stage or COPY --from may need the files even when no step here did.
  return {
    image: { ...built, config: { ...built.config, created: clock.now() } }, root: async () => (await root.get()).dir, argEnv: state.argEnv,
    ...(cache.head !== undefined ? { cacheKey: cache.head } : {}),
  };
}

/** What every step of the stage runs with. */
function stepContext(input: StageInput, rootDir: string, tmpDir: string): StepContext {
  const { options } = input;
  return {
    rootDir, buildContext: input.buildContext, fromRoot: input.fromRoot, buildArgs: options.buildArgs, metaArgs: input.metaArgs,
    selfCommand: options.selfCommand, inPlace: !!input.inPlace, logger: options.logger, stdout: options.stdout, stderr: options.stderr,
    tmpDir, runtimeDir: join(input.workDir, "runc"), network: options.network, runMounts: input.runMounts,
  };
}
