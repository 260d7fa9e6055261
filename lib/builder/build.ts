// One build from options to outputs: open the context once, read and parse the Dockerfile, plan the stages,
// build them, write outputs; the build's work directory and staged outputs go when it ends or is interrupted.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Dockerfile } from "../dockerfile/mod.ts";
import { parseDockerfile } from "../dockerfile/mod.ts";
import type { Image } from "../image/mod.ts";
import { formatPlatform, OutputStage, parsePlatform, type Platform } from "../image/mod.ts";
import { downloadDockerfile, forDockerfile, openContext, type BuildContext } from "../context/mod.ts";
import { RegistryClient } from "../registry/mod.ts";
import { DirBaseImageCache } from "../cache/mod.ts";
import { type BuildOptionsInput, type BuildOptions, resolveOptions } from "./options.ts";
import { BuildError } from "./errors.ts";
import { whenAborted } from "./abort.ts";
import { findStage, planBuild, type BuildPlan } from "./plan.ts";
import { buildImages, resolveBase } from "./base.ts";
import { StageScheduler } from "./scheduler.ts";
import { BuildCache } from "./layer-step-cache.ts";
import { cacheStore, imageBaseKey, stepKeys, type StepKeysInput } from "./cache-setup.ts";
import { FromRoots } from "./from-roots.ts";
import { buildStage, type StageResult } from "./stage.ts";
import { checkOutputPaths, writeIndexOutputs, writeOutputs } from "./outputs.ts";
import { checkForeignRuns, eachPlatform, platformOptions, platformWorkDir, runtimeDirs, SharedStages, sharedStages } from "./platforms.ts";
import { InPlaceRoot } from "./inplace.ts";
import { BuildTimings, type BuildTimingsReport } from "./timings.ts";
import { diskFullCause } from "./format-error.ts";
import { BuildDir, reapDeadBuilds } from "./workdir.ts";
import { MountResources, withLabels } from "../instructions/mod.ts";
import { abortRuns, closeNetwork } from "../sandbox/mod.ts";

export interface BuildResult {
  image: Image;
  digest: string;
  /** Where the time went (the summary the log ends with). */
  timings: BuildTimingsReport;
}

export async function build(input: BuildOptionsInput): Promise<BuildResult> {
  const options = resolveOptions(input);
  const log = options.logger;
  const timings = new BuildTimings(log);
  // Bad destinations fail before anything is pulled, run or pushed, and before a work directory exists.
  checkOutputPaths(options);
  const base = resolve(options.workDir ?? join(options.tempDir, "kiln"));
  await reapDeadBuilds(base, log);
  // Made before the context is opened: a fetched context is unpacked into it, so it goes with the build.
  const work = BuildDir.create(base, { removeEmptyBase: !options.workDir });
  const outputs = new OutputStage();
  const interrupted = whenAborted(options.signal, async () => {
    // The RUNs first: their runtime state lives in the work dir, and they may still be writing into it.
    await abortRuns(join(work.dir, "runc"));
    outputs.discard();
    work.remove();
  });
  let opened: BuildContext | undefined;
  try {
    const running = (async () => {
      opened = await openContext(options.context, {
        contextSubPath: options.contextSubPath, workDir: work.dir, stdin: options.stdin,
        fetch: { env: options.env, git: options.git, maxBytes: options.contextSizeLimit, caFiles: options.registry.caFiles, signal: options.signal },
      });
      const dockerfilePath = await dockerfileIn(opened, options, work.dir);
      const df = parseDockerfile(readFileSync(dockerfilePath, "utf8"), { file: options.dockerfile });
      for (const w of df.warnings) log.warn(`${df.file}:${w.line}: ${w.message} (${w.rule})`);
      const ctx = forDockerfile(opened, dockerfilePath);
      const inPlace = options.mode === "in-place"
        ? InPlaceRoot.open({ workDir: base, contextDir: ctx.dir, extraIgnorePaths: options.ignorePaths, logger: log, tmpDir: join(work.dir, "tmp") })
        : undefined;
      try {
        return await runBuild(df, options, work.dir, ctx, outputs, timings, inPlace);
      } finally {
        if (inPlace && options.cleanup && !options.signal?.aborted) await inPlace.cleanup();
      }
    })();
    return await Promise.race([running, interrupted.promise]);
  } catch (e) {
    // A failed build says where its time went too (steps done so far, the failing one's stage included).
    if (!options.signal?.aborted) timings.summarize();
    throw fullWorkDir(e, base);
  } finally {
    interrupted.dispose();
    await interrupted.settled();
    // The RUN network's helpers would also end with the process; a library caller's process may live on.
    await closeNetwork(join(work.dir, "runc"));
    outputs.discard();
    await opened?.cleanup();
    work.remove();
  }
}

/**
 * The Dockerfile's path: a URL is downloaded into the work directory (as kaniko does), a relative path is looked
 * up in the context (resolveOptions tried the caller's directory first).
 */
async function dockerfileIn(ctx: BuildContext, options: BuildOptions, workDir: string): Promise<string> {
  if (/^https?:\/\//i.test(options.dockerfile)) {
    const dest = join(workDir, "Dockerfile");
    await downloadDockerfile(options.dockerfile, dest, { caFiles: options.registry.caFiles, signal: options.signal });
    return dest;
  }
  const path = isAbsolute(options.dockerfile) ? options.dockerfile : join(ctx.dir, options.dockerfile);
  if (!existsSync(path)) {
    throw new BuildError(`Dockerfile not found: ${path} (give --dockerfile PATH; a relative path is looked up in the current directory, then in the context)`);
  }
  return path;
}

/**
 * A disk filled by the build's own files is reported against the work directory (--kaniko-dir or TMPDIR): the
 * failing write names no path, or one in the build's directory, which is gone by the time the error is printed.
 * formatError turns the code and path into the line; a full output destination keeps its own path.
 */
function fullWorkDir(e: unknown, base: string): unknown {
  const c = diskFullCause(e);
  if (!c || (c.path && !c.path.startsWith(base + "/"))) return e;
  return Object.assign(new Error(c.message, { cause: e }), { code: c.code, path: base });
}

async function runBuild(
  df: Dockerfile, options: BuildOptions, workDir: string, buildContext: BuildContext, outputs: OutputStage, timings: BuildTimings,
  inPlace?: InPlaceRoot,
): Promise<BuildResult> {
  const log = options.logger;
  const targets = options.platforms ?? [options.platform];
  const plans = targets.map((p) => planBuild(df, platformOptions(options, p)));
  // In place there is one "/": a stage cannot be kept aside for another platform's stages, so none is shared.
  const shared = new SharedStages<StageResult>(inPlace ? new Set() : sharedStages(df, plans));
  plans.forEach((plan, n) => checkForeignRuns(df, plan, targets[n], log, new Set([...plan.order].filter((i) => shared.has(i)))));
  let client: RegistryClient | undefined;
  const registry = () => (client ??= new RegistryClient({ ...options.registry, logger: log }));
  // Missing push rights should fail in a second, not after the whole build (kaniko's CheckPushPermissions).
  if (!options.noPush && options.destinations.length && !options.skipPushPermissionCheck) {
    await registry().checkPushPermission(options.destinations);
  }
  // kaniko's --cache-dir defaults to /cache and is read only when it exists; the warmer fills it.
  const baseCache = existsSync(options.cacheDir) ? new DirBaseImageCache({ dir: options.cacheDir, ttlMs: options.cacheTtl, logger: log }) : undefined;
  // FROM, COPY --from, RUN --mount from= and their cache keys share one fetch of each image.
  const images = buildImages(async (ref, platform) => {
    log.info(`Retrieving image ${ref}`);
    return (await registry().pull(ref, platform)).image;
  }, baseCache);

  // Cache mounts outlive the build in the kaniko dir the user gave (builds share them there, under locks); without
  // one they live in this build's own directory and go with it.
  const runMounts = new MountResources({ cacheDir: join(options.workDir ?? workDir, "cache", "mounts"), tmpDir: join(workDir, "tmp"), secrets: options.secrets });
  // --cache: the store is known before the first stage (a missing --cache-repo fails now, not after building).
  const layerCache = options.cache.enabled && !options.singleSnapshot
    ? new BuildCache({ store: cacheStore(options, registry), runLayers: options.cache.runLayers, copyLayers: options.cache.copyLayers, write: options.cache.write, logger: log })
    : undefined;
  const env: TargetEnv = { df, buildContext, timings, inPlace, images, runMounts, layerCache, shared, workDir };
  const built = options.platforms
    ? eachPlatform(targets, !!inPlace, (p) => buildTarget(platformOptions(options, p), plans[targets.indexOf(p)], platformWorkDir(workDir, p), env))
    : buildTarget(options, plans[0], workDir, env).then((image) => [image]);
  const results = await built;
  try {
    const labelled = results.map((image) => withBuildLabels(image, options.labels));
    const { digest } = await timings.outputs(() => options.platforms
      ? writeIndexOutputs(labelled.map((image, n) => ({ platform: targets[n], image })), options, registry, outputs)
      : writeOutputs(labelled[0], options, registry, outputs));
    return { image: labelled[0], digest, timings: timings.summarize() };
  } finally {
    // Stores went on while the build did; the work dir (their layer files) goes only after them.
    await layerCache?.flush();
  }
}

/** What every target platform's stages share: the build's inputs, caches, image fetches and shared stages. */
interface TargetEnv {
  df: Dockerfile;
  buildContext: BuildContext;
  timings: BuildTimings;
  inPlace: InPlaceRoot | undefined;
  images: (ref: string, platform: Platform) => Promise<Image>;
  runMounts: MountResources;
  layerCache: BuildCache | undefined;
  shared: SharedStages<StageResult>;
  /** The build's directory: shared stages build there, each platform's own stages in `dir`. */
  workDir: string;
}

/** Builds the stages `plan` needs for `options.platform` in `dir`; returns the target stage's image. */
async function buildTarget(options: BuildOptions, plan: BuildPlan, dir: string, env: TargetEnv): Promise<Image> {
  const { df, buildContext, timings, inPlace, images, runMounts, layerCache, shared } = env;
  const log = options.logger;
  const forPlatform = dir !== env.workDir ? ` for ${formatPlatform(options.platform)}` : "";
  const scheduler = new StageScheduler<StageResult>({ sequential: !!inPlace });
  const fromRoots = new FromRoots({
    df, workDir: dir, logger: log, inPlace, stageResult: (i) => scheduler.result(i), pull: (ref) => images(ref, options.platform),
  });
  const keysInput: StepKeysInput = {
    df, options, buildContext,
    stageKey: async (i) => (await scheduler.result(i))?.cacheKey,
    image: (ref) => images(ref, options.platform),
    contextDigests: new Map(),
  };
  const buildOne = (index: number, workDir: string, label: string) => timings.stage(index, df.stages[index].name, async (timer) => {
    const stage = df.stages[index];
    const from = plan.baseOf(stage);
    log.info(`Building stage ${index}${stage.name ? ` (${stage.name})` : ""}${label} FROM ${from.image}`);
    const platform = from.platform ? parsePlatform(from.platform) : options.platform;
    const base = await resolveBase(from.image, platform, {
      earlierStage: async (name) => {
        const dep = findStage(df, name, index);
        return dep && scheduler.result(dep.index);
      },
      pull: images,
    }, { file: df.file, line: stage.line });
    const cache = layerCache?.forStage(base.root ? base.cacheKey : imageBaseKey(from.image, base.image, platform), stepKeys(keysInput, index));
    return buildStage({
      df, stage, base: base.image, baseRoot: base.root, baseArgEnv: base.argEnv, options, workDir, buildContext, metaArgs: plan.metaArgs,
      fromRoot: fromRoots.forStage(index), inPlace, keepAs: fromRoots.keepDir(index), runMounts, timer, ...(cache ? { cache } : {}),
      // A stage shared by several platforms' plans keeps compressed layers: one of them may output it.
      internal: !layerCache && !shared.has(index) && !plan.layersLeave(stage),
    });
  });
  const results = await scheduler.run(plan.order, (i) => plan.depsOf(df.stages[i]), (index) => shared.has(index)
    // Shared stages build once, in the build's own directory, natively (their FROM pins the platform).
    ? shared.once(index, () => buildOne(index, env.workDir, ""))
    : buildOne(index, dir, forPlatform));
  return results.get(plan.target.index)!.image;
}

/** --label applies to the final image only and wins over the Dockerfile's LABELs, as with docker build --label. */
function withBuildLabels(image: Image, labels: Record<string, string>): Image {
  if (Object.keys(labels).length === 0) return image;
  return { ...image, config: { ...image.config, config: { ...image.config.config, Labels: withLabels(image.config.config.Labels, labels) } } };
}
