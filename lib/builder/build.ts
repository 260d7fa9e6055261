// One build from options to outputs: read and parse the Dockerfile, plan the stages, build them, write outputs.
import { existsSync, readFileSync, mkdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Dockerfile, Stage } from "../dockerfile/mod.ts";
import { parseDockerfile, resolveMetaArgs, resolveStageBase } from "../dockerfile/mod.ts";
import type { Image, Platform } from "../image/mod.ts";
import { formatPlatform, hostPlatform, OutputStage, parsePlatform, scratchImage } from "../image/mod.ts";
import { openContext } from "../context/mod.ts";
import { RegistryClient } from "../registry/mod.ts";
import { RootFS } from "../rootfs/mod.ts";
import { type BuildOptionsInput, type BuildOptions, resolveOptions } from "./options.ts";
import { BuildError, BuildInterruptedError } from "./errors.ts";
import { findStage, neededStages, stageDeps, targetStage } from "./plan.ts";
import { buildStage, type StageResult } from "./stage.ts";
import { checkOutputPaths, writeOutputs } from "./outputs.ts";
import { InPlaceRoot } from "./inplace.ts";
import { BuildDir, reapDeadBuilds } from "./workdir.ts";
import { MountResources, PROXY_ARGS, withLabels } from "../instructions/mod.ts";
import { abortAllRuns, closeNetwork } from "../sandbox/mod.ts";

export interface BuildResult {
  image: Image;
  digest: string;
}

export async function build(input: BuildOptionsInput): Promise<BuildResult> {
  const options = resolveOptions(input);
  const log = options.logger;
  // Bad destinations fail before anything is pulled, run or pushed, and before a work directory exists.
  checkOutputPaths(options);
  const buildContext = await openContext(options.context, { contextSubPath: options.contextSubPath });
  try {
    const dockerfilePath = isAbsolute(options.dockerfile) ? options.dockerfile : join(buildContext.dir, options.dockerfile);
    if (!existsSync(dockerfilePath)) {
      throw new BuildError(`Dockerfile not found: ${dockerfilePath} (give --dockerfile PATH; a relative path is looked up in the current directory, then in the context)`);
    }
    const df = parseDockerfile(readFileSync(dockerfilePath, "utf8"), { file: options.dockerfile });
    for (const w of df.warnings) log.warn(`${df.file}:${w.line}: ${w.message} (${w.rule})`);
    const ctx = await openContext(options.context, { contextSubPath: options.contextSubPath, dockerfilePath });
    const base = resolve(options.workDir ?? join(options.tempDir, "kiln"));
    await reapDeadBuilds(base, log);
    const work = BuildDir.create(base, { removeEmptyBase: !options.workDir });
    const outputs = new OutputStage();
    const interrupted = whenAborted(options.signal, async () => {
      // The RUNs first: their runtime state lives in the work dir, and they may still be writing into it.
      await abortAllRuns();
      outputs.discard();
      work.remove();
    });
    try {
      const inPlace = options.mode === "in-place"
        ? InPlaceRoot.open({ workDir: base, contextDir: ctx.dir, extraIgnorePaths: options.ignorePaths, logger: log, tmpDir: join(work.dir, "tmp") })
        : undefined;
      const running = (async () => {
        try {
          return await runBuild(df, options, work.dir, ctx, outputs, inPlace);
        } finally {
          if (inPlace && options.cleanup && !options.signal?.aborted) await inPlace.cleanup();
        }
      })();
      return await Promise.race([running, interrupted.promise]);
    } catch (e) {
      throw fullWorkDir(e, base);
    } finally {
      interrupted.dispose();
      await interrupted.settled();
      // The RUN network's helpers would also end with the process; a library caller's process may live on.
      await closeNetwork(join(work.dir, "runc"));
      outputs.discard();
      work.remove();
    }
  } finally {
    await buildContext.cleanup();
  }
}

/**
 * Rejects with BuildInterruptedError once `signal` aborts and `cleanup` has run. settled() waits for that cleanup
 * when an abort started it (the build may fail on its own first, as its RUN is killed); dispose() when over.
 */
function whenAborted(signal: AbortSignal | undefined, cleanup: () => Promise<void>) {
  let listener: (() => void) | undefined;
  let cleaning: Promise<void> | undefined;
  const promise = new Promise<never>((_, reject) => {
    listener = () => {
      cleaning = cleanup();
      void cleaning.finally(() => reject(new BuildInterruptedError(String(signal!.reason ?? "an abort"))));
    };
    if (signal?.aborted) listener();
    else signal?.addEventListener("abort", listener, { once: true });
  });
  promise.catch(() => {}); // only raced against the build
  return {
    promise,
    settled: async () => { await cleaning?.catch(() => {}); },
    dispose: () => { if (listener) signal?.removeEventListener("abort", listener); },
  };
}

/**
 * A disk filled by the build's own files is reported against the work directory (--kaniko-dir or TMPDIR): the
 * failing write names no path, or one in the build's directory, which is gone by the time the error is printed.
 * formatError turns the code and path into the line; a full output destination keeps its own path.
 */
function fullWorkDir(e: unknown, base: string): unknown {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    const { code, path } = c as NodeJS.ErrnoException;
    if (code !== "ENOSPC" && code !== "EDQUOT") continue;
    if (path && !path.startsWith(base + "/")) return e;
    return Object.assign(new Error(c.message, { cause: e }), { code, path: base });
  }
  return e;
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

async function runBuild(
  df: Dockerfile, options: BuildOptions, workDir: string, buildContext: Awaited<ReturnType<typeof openContext>>, outputs: OutputStage, inPlace?: InPlaceRoot,
): Promise<BuildResult> {
  const log = options.logger;
  const metaArgs = resolveMetaArgs(df, definedArgs(options.buildArgs), platformArgs(options.platform));
  const baseOf = (s: Stage) => resolveStageBase(s, metaArgs, { escape: df.escape, file: df.file });
  const target = targetStage(df, options.target);
  const order = neededStages(df, target, (s) => baseOf(s).image);
  warnUnusedBuildArgs(df, order, options);

  let client: RegistryClient | undefined;
  const registry = () => (client ??= new RegistryClient({
    logger: log,
    insecureRegistries: options.registry.insecureRegistries,
    insecurePull: options.registry.insecurePull,
    insecurePush: options.registry.insecure,
    skipTlsVerify: options.registry.skipTlsVerify,
    skipTlsVerifyPull: options.registry.skipTlsVerifyPull,
    skipTlsVerifyRegistries: options.registry.skipTlsVerifyRegistries,
    certificates: options.registry.certificates,
    ...(options.registry.caFiles ? { caFiles: options.registry.caFiles } : {}),
    clientCerts: options.registry.clientCerts,
    registryMap: options.registry.registryMap,
    skipDefaultRegistryFallback: options.registry.skipDefaultRegistryFallback,
    ignoreImmutableTagErrors: options.registry.ignoreImmutableTagErrors,
    envCredentials: options.registry.envCredentials,
    dockerConfigDir: options.registry.dockerConfigDir,
    pullRetries: options.registry.imageDownloadRetry,
    pushRetries: options.registry.pushRetry,
  }));
  // Missing push rights should fail in a second, not after the whole build (kaniko's CheckPushPermissions).
  if (!options.noPush && options.destinations.length && !options.registry.skipPushPermissionCheck) {
    await registry().checkPushPermission(options.destinations);
  }

  const results = new Map<number, StageResult>();
  // Cache mounts outlive the build in the kaniko dir the user gave (builds share them there, under locks); without
  // one they live in this build's own directory and go with it.
  const cacheDir = join(options.workDir ?? workDir, "cache", "mounts");
  const runMounts = new MountResources({ cacheDir, tmpDir: join(workDir, "tmp"), secrets: options.secrets });
  // Images unpacked once into a directory of the work dir: images named by COPY --from, and, in place (where "/"
  // holds only the stage being built), earlier stages' files for COPY --from, unpacked from their layers.
  const unpacked = new Map<string, Promise<string>>();
  const unpackOnce = (key: string, dir: string, image: () => Promise<Image>): Promise<string> => {
    let p = unpacked.get(key);
    if (!p) {
      p = (async () => {
        const img = await image();
        mkdirSync(dir, { recursive: true });
        const fs = new RootFS(dir, { logger: log, tmpDir: join(workDir, "tmp") });
        for (const l of img.layers) await fs.apply(l);
        return dir;
      })();
      unpacked.set(key, p);
    }
    return p;
  };
  const pullImage = async (ref: string, platform = options.platform) => {
    log.info(`Retrieving image ${ref}`);
    return (await registry().pull(ref, platform)).image;
  };
  const fromRoot = (stageIndex: number) => async (from: string): Promise<string> => {
    const dep = findStage(df, from, stageIndex);
    if (dep) {
      // A stage named only through an expanded --from value is not a planned dependency: wait for it here.
      const r = results.get(dep.index) ?? await pending.get(dep.index);
      if (!r) throw new BuildError(`COPY --from=${from}: stage ${dep.index} was not built`);
      return inPlace ? unpackOnce(`stage:${dep.index}`, join(workDir, "stages", String(dep.index)), async () => r.image) : r.root();
    }
    return unpackOnce(`image:${from}`, join(workDir, "images", String(unpacked.size)), () => pullImage(from));
  };

  // Independent stages build at the same time in the isolated mode (each has its own root); a stage starts once the
  // stages it names (FROM, COPY --from, RUN --mount from=) are done. In place there is one "/": one stage at a time.
  const pending = new Map<number, Promise<StageResult>>();
  const buildOne = async (index: number): Promise<void> => {
    const stage = df.stages[index];
    await Promise.all(stageDeps(df, stage, (s) => baseOf(s).image).map((d) => pending.get(d)));
    const resolved = baseOf(stage);
    const baseName = resolved.image;
    log.info(`Building stage ${index}${stage.name ? ` (${stage.name})` : ""} FROM ${baseName}`);
    const platform = resolved.platform ? parsePlatform(resolved.platform) : options.platform;
    const dep = findStage(df, baseName, index);
    let base: Image;
    let baseRoot: (() => Promise<string>) | undefined;
    if (dep) {
      const r = results.get(dep.index)!;
      base = r.image;
      baseRoot = r.root;
    } else if (baseName.toLowerCase() === "scratch") {
      // BuildKit's empty image has WorkingDir "/" in its config.
      const empty = scratchImage(platform);
      base = { ...empty, config: { ...empty.config, config: { ...empty.config.config, WorkingDir: "/" } } };
    } else {
      try {
        base = await pullImage(baseName, platform);
      } catch (e) {
        throw new BuildError(`${df.file}:${stage.line}: FROM ${baseName}: ${(e as Error).message}`, { file: df.file, line: stage.line });
      }
    }
    results.set(index, await buildStage({
      df, stage, base, baseRoot, options, workDir, buildContext, metaArgs, fromRoot: fromRoot(index), inPlace, runMounts,
    }));
  };
  for (const index of order) {
    const p = buildOne(index).then(() => results.get(index)!);
    pending.set(index, p);
    if (inPlace) await p;
  }
  // Every stage settles before the first failure is reported, so none is still writing when the work dir goes.
  const failed = (await Promise.allSettled(pending.values())).find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  const built = results.get(target.index)!.image;
  // --label applies to the final image only and wins over the Dockerfile's LABELs, as with docker build --label.
  const image = Object.keys(options.labels).length
    ? { ...built, config: { ...built.config, config: { ...built.config.config, Labels: withLabels(built.config.config.Labels, options.labels) } } }
    : built;
  const { digest } = await writeOutputs(image, options, registry, outputs);
  return { image, digest };
}

/** Docker's warning for --build-arg values no stage declared. */
function warnUnusedBuildArgs(df: Dockerfile, order: number[], options: BuildOptions): void {
  const declared = new Set<string>();
  for (const m of df.metaArgs) for (const a of m.args) declared.add(a.name);
  for (const i of order) for (const instr of df.stages[i].instructions) if (instr.kind === "ARG") for (const a of instr.args) declared.add(a.name);
  const unused = Object.keys(options.buildArgs).filter((k) => !declared.has(k) && !PROXY_ARGS.has(k));
  if (unused.length) options.logger.warn(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed`);
}
