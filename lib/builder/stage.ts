// Builds one stage: resolve its base, walk its steps, snapshot after each, and return the image and its root.
import { mkdirSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { Dockerfile, Instruction, Stage } from "../dockerfile/mod.ts";
import { expandInstruction, DockerfileError, parseDockerfile } from "../dockerfile/mod.ts";
import type { HistoryEntry, Image, ImageConfig, Layer } from "../image/mod.ts";
import { appendLayers, layerMediaType } from "../image/mod.ts";
import {
  execute, lookupFor, sortedConfig, traits, type StageState, type StepContext, InstructionError, RunFailedError, type MountResources,
} from "../instructions/mod.ts";
import { isolatedIgnorePaths, RootFS } from "../rootfs/mod.ts";
import type { BuildContext } from "../context/mod.ts";
import type { BuildOptions } from "./options.ts";
import { BuildError } from "./errors.ts";
import type { InPlaceRoot } from "./inplace.ts";

// Errors about what the Dockerfile asks for (named by class name: their folders are not imported here).
const USER_ERRORS = new Set(["ContextError", "UserLookupError"]);

export interface StageResult {
  image: Image;
  /** The stage's build root, filled lazily: only when a step or a later COPY --from needs the files. */
  root: () => Promise<string>;
}

export interface StageInput {
  df: Dockerfile;
  stage: Stage;
  base: Image;
  /** Root of the base when it is an earlier stage (copied instead of re-applying its layers). */
  baseRoot?: () => Promise<string>;
  options: BuildOptions;
  workDir: string;
  buildContext: BuildContext;
  metaArgs: ReadonlyMap<string, string | undefined>;
  fromRoot: (from: string) => Promise<string>;
  /** Cache dirs and secrets behind RUN --mount, shared by every stage of the build. */
  runMounts?: MountResources;
  /** In-place mode: the shared root "/" (RUN runs on it directly, not in a chroot). */
  inPlace?: InPlaceRoot;
}

export async function buildStage(input: StageInput): Promise<StageResult> {
  const { df, stage, options, workDir } = input;
  const log = options.logger;
  const rootDir = input.inPlace ? input.inPlace.dir : join(workDir, "roots", String(stage.index));
  const tmpDir = join(workDir, "tmp");
  mkdirSync(tmpDir, { recursive: true });
  let rootfs: RootFS | undefined;
  const ensureRoot = async (): Promise<RootFS> => {
    if (rootfs) return rootfs;
    if (input.inPlace) {
      await input.inPlace.claim();
    } else {
      mkdirSync(rootDir, { recursive: true });
      chmodSync(rootDir, 0o755); // a container's "/" is 0755; non-root users must be able to enter it
    }
    const fs = new RootFS(rootDir, {
      logger: log, ignorePaths: input.inPlace?.ignorePaths ?? isolatedIgnorePaths(options.ignorePaths), tmpDir, snapshotMode: options.snapshotMode,
    });
    for (const v of volumes) fs.ignoreBeneath(v);
    // In-place, the earlier stage's files were wiped from "/": its layers are applied again instead.
    if (input.baseRoot && !input.inPlace) {
      const src = await input.baseRoot();
      const cp = Bun.spawnSync(["cp", "-a", "--reflink=auto", `${src}/.`, rootDir], { stderr: "pipe" });
      if (cp.exitCode !== 0) throw new BuildError(`copying the root of the base stage failed: ${cp.stderr.toString().trim()}`);
    } else {
      for (const [i, layer] of input.base.layers.entries()) {
        log.info(`Unpacking layer ${i + 1}/${input.base.layers.length} ${layer.digest.slice(0, 19)}`);
        await fs.apply(layer, { retries: options.imageFsExtractRetry });
      }
    }
    await fs.baseline();
    rootfs = fs;
    return fs;
  };

  let config: ImageConfig = structuredClone(input.base.config);
  // The base's ONBUILD triggers run as this stage's first steps and are not inherited further (BuildKit).
  const triggers = onbuildTriggers(config, df, stage);
  if (config.config.OnBuild) config.config = { ...config.config, OnBuild: null };
  let image: Image = { ...input.base, config };
  // The stage owns this clone, so steps extend its maps in place (StageState.linear): a step's cost does not grow
  // with the number of steps before it.
  let state: StageState = { config, args: new Map(), linear: true };
  const mediaType = layerMediaType(image.format, options.compression);
  // --reproducible zeroes timestamps; SOURCE_DATE_EPOCH pins them (and clamps layer mtimes).
  const epoch = options.reproducible ? 0 : options.sourceDateEpoch;
  const clock = epoch !== undefined ? () => new Date(epoch * 1000) : (options.now ?? (() => new Date()));
  const now = () => clock().toISOString().replace(/\.\d+Z$/, "Z");
  // VOLUME paths: their contents stay out of snapshots for the rest of the stage, as in kaniko.
  const volumes: string[] = [];
  const snapshotOptions = { compression: options.compression, level: options.compressionLevel, mediaType, ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}) };

  const steps = [...triggers, ...stage.instructions];
  // History entries and layers are appended once, after the last step: a copy of the lists per step was O(N²).
  const appended: { layer: Layer | undefined; history: HistoryEntry }[] = [];
  for (const [stepIndex, raw] of steps.entries()) {
    const last = stepIndex === steps.length - 1;
    const where = { file: df.file, line: raw.line };
    let instr;
    try {
      instr = expandInstruction(raw, lookupFor(state), df.escape, df.file);
    } catch (e) {
      // A DockerfileError names the file, the line and the word (clipped: a generated line can be megabytes).
      if (e instanceof DockerfileError) throw new BuildError(e.message, where);
      throw new BuildError(`${df.file}:${raw.line}: ${raw.original.slice(0, 200)}: ${(e as Error).message}`, where);
    }
    log.info(instr.original);
    const needsRoot = instr.kind !== "FROM" && traits[instr.kind].needsRootfs;
    const fs = needsRoot ? await ensureRoot() : undefined;
    const ctx: StepContext = {
      rootDir, buildContext: input.buildContext, fromRoot: input.fromRoot, buildArgs: options.buildArgs, metaArgs: input.metaArgs,
      selfCommand: options.selfCommand, inPlace: !!input.inPlace, logger: log, stdout: options.stdout, stderr: options.stderr, tmpDir, runtimeDir: join(workDir, "runc"), network: options.network,
      runMounts: input.runMounts,
    };
    const config = state.config.config;
    const newVolumes = instr.kind === "VOLUME" ? [...new Set(instr.volumes)].filter((v) => !Object.hasOwn(config.Volumes ?? {}, v)) : [];
    let result;
    try {
      result = await execute(instr, state, ctx);
    } catch (e) {
      if (e instanceof RunFailedError) throw e;
      if (e instanceof InstructionError || e instanceof DockerfileError || USER_ERRORS.has((e as Error).name)) {
        throw new BuildError(`${df.file}:${raw.line}: ${(e as Error).message}`, where);
      }
      throw e;
    }
    for (const v of newVolumes) { volumes.push(v); rootfs?.ignoreBeneath(v); }
    state = result.state;
    let layer: Layer | undefined;
    if (options.singleSnapshot) {
      // One full scan after the last step, whether or not that step touched files itself.
      if (last && rootfs) layer = await rootfs.snapshot(snapshotOptions);
    } else if (fs && result.changes.kind !== "none") {
      layer = await fs.snapshot({ ...snapshotOptions, ...(result.changes.kind === "paths" ? { paths: result.changes.paths } : {}) });
    }
    if (result.createdBy === undefined) continue; // ONBUILD: config only, no history entry
    appended.push({ layer, history: { created: now(), created_by: result.createdBy, comment: "buildkit.dockerfile.v0" } });
  }
  image = appendLayers({ ...image, config: sortedConfig(state.config) }, appended);
  image = { ...image, config: { ...image.config, created: now() } };
  // A later stage or COPY --from may need the files even when no step here did.
  return { image, root: async () => (await ensureRoot()).dir };
}

/** The base config's ONBUILD triggers parsed as instructions (reported at the stage's FROM line). */
function onbuildTriggers(config: ImageConfig, df: Dockerfile, stage: Stage): Instruction[] {
  const list = config.config.OnBuild ?? [];
  if (list.length === 0) return [];
  try {
    const parsed = parseDockerfile(`FROM scratch\n${list.join("\n")}\n`, { file: `${df.file} (ONBUILD triggers of the base of line ${stage.line})` });
    return parsed.stages[0].instructions.map((i) => ({ ...i, line: stage.line }));
  } catch (e) {
    throw new BuildError(`${df.file}:${stage.line}: the base image's ONBUILD triggers do not parse: ${(e as Error).message}`, { file: df.file, line: stage.line });
  }
}

