// Everything a build needs, in one object; defaults live in resolveOptions() and nowhere else.
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { Platform } from "../image/mod.ts";
import type { SecretSource } from "../instructions/mod.ts";
import { hostPlatform } from "../image/mod.ts";
import type { RegistryOptions } from "../registry/mod.ts";
import { DEFAULT_CONTEXT_SIZE_LIMIT, type ContextStdin, type GitContextOptions } from "../context/mod.ts";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

export interface BuildOptions {
  /** A path, `dir://PATH`, `tar://PATH`, `tar://stdin`, `s3://`, `gs://`, `git://`, or an https:// URL (kaniko's sources). */
  context: string;
  contextSubPath?: string;
  /** The caller's environment as a value: what the context sources read (S3_ENDPOINT, AWS_*, GOOGLE_*, AZURE_*, GIT_*). */
  env: Readonly<Record<string, string | undefined>>;
  /** --git: how a git context is cloned. */
  git: GitContextOptions;
  /** --context-size-limit: the most bytes a fetched context's tar may hold. */
  contextSizeLimit: number;
  /** The caller's standard input, read only for `tar://stdin`. */
  stdin?: ContextStdin;
  /** Dockerfile path or http(s) URL; relative paths are tried against the current directory, then the context. */
  dockerfile: string;
  destinations: string[];
  noPush: boolean;
  tarPath?: string;
  ociLayoutPath?: string;
  digestFile?: string;
  imageNameWithDigestFile?: string;
  imageNameTagWithDigestFile?: string;
  /** `--build-arg`; undefined value = NAME given without `=` and absent from the environment. */
  buildArgs: Record<string, string | undefined>;
  target?: string;
  platform: Platform;
  /**
   * --platform with several platforms: the Dockerfile is built once per platform (each taking `platform`'s place)
   * and the outputs name an image index of the results. Unset: one image for `platform`.
   */
  platforms?: Platform[];
  labels: Record<string, string>;
  /** How registries are reached, passed to the registry client as it is. */
  registry: RegistryOptions;
  /** Do not start and cancel an upload to each destination before building. */
  skipPushPermissionCheck: boolean;
  compression: "gzip" | "zstd";
  /** The codec's own scale (gzip 1-9, zstd 1-22); undefined = the codec default kaniko uses. */
  compressionLevel?: number;
  /** How a step's changes are found: `full` (stat, then content), `redo` (mode/size/owner/mtime), `time` (mtime). */
  snapshotMode: "full" | "redo" | "time";
  /** One layer per stage, taken after its last step. */
  singleSnapshot: boolean;
  /** Zero timestamps in new layers and the config; base layers keep their bytes. */
  reproducible: boolean;
  /** SOURCE_DATE_EPOCH (seconds): new layers' mtimes are clamped to it and `created` is set to it. */
  sourceDateEpoch?: number;
  /** Retries when applying a base layer fails. */
  imageFsExtractRetry: number;
  /** The layer cache (--cache and friends, kaniko's meanings). */
  cache: {
    enabled: boolean;
    /** --cache-repo: a repository, or `oci:DIR`; unset: the first destination's repository + "/cache". */
    repo?: string;
    /** --cache-copy-layers: COPY and ADD are cached too. */
    copyLayers: boolean;
    /** --cache-run-layers: RUN is cached. */
    runLayers: boolean;
    /** false with --no-push-cache. */
    write: boolean;
  };
  /** The warmer's base-image cache (--cache-dir), read before the registry; skipped when it does not exist. */
  cacheDir: string;
  /** --cache-ttl in ms: older cached entries of tag references are misses. */
  cacheTtl: number;
  /**
   * kiln's directory (--kaniko-dir): each build makes its private directory under `<workDir>/builds/`, removed when
   * the build ends; RUN cache mounts persist in `<workDir>/cache/mounts`. Unset: `<tempDir>/kiln`, and cache
   * mounts last one build.
   */
  workDir?: string;
  /** Where the build's private directory goes when workDir is unset (the CLI's TMPDIR). */
  tempDir: string;
  /**
   * Aborting stops the build: its RUNs are killed, its private directory and staged outputs removed, and
   * build() rejects with BuildInterruptedError (the CLI aborts on SIGINT and SIGTERM).
   */
  signal?: AbortSignal;
  /** --secret values for RUN --mount=type=secret, by id; never logged, never in the image. */
  secrets: Record<string, SecretSource>;
  /**
   * `isolated`: each stage has its own build root and RUN runs in a namespace sandbox; `in-place`: the root is "/"
   * (kaniko's model; only inside the executor image, where the CLI selects it).
   */
  mode: "isolated" | "in-place";
  /**
   * Network of RUN steps without their own --network, in the isolated mode: `private` (a namespace of the build's
   * own with outbound access through slirp4netns, as `docker build` gives), `host`, or `none`. In place, RUN shares
   * the container's network.
   */
  network: "private" | "host" | "none";
  /** false: every stage up to the target is built (--skip-unused-stages=false, kaniko's default); unset: only those it needs (BuildKit). */
  skipUnusedStages?: boolean;
  /** In-place: wipe what the build unpacked into "/" once it is done (kaniko's --cleanup). */
  cleanup: boolean;
  ignorePaths: string[];
  /** How to start kiln itself for the RUN sandbox helper. */
  selfCommand: string[];
  logger: Logger;
  /** RUN output sinks (the CLI streams them to its stdout/stderr). */
  stdout?: (chunk: Uint8Array) => void;
  stderr?: (chunk: Uint8Array) => void;
  /** Clock for `created` timestamps (tests pin it). */
  now?: () => Date;
}

/**
 * What a caller gives: any field of BuildOptions (selfCommand is required), plus facts about the caller's
 * surroundings that resolveOptions turns into options. Nothing here reads the environment itself: the CLI passes
 * its process's values.
 */
export type BuildOptionsInput = Partial<BuildOptions> & Pick<BuildOptions, "selfCommand"> & {
  /** Adds /var/run to ignorePaths (kaniko's --ignore-var-run, on unless false). */
  ignoreVarRun?: boolean;
  /** The caller's directory: a relative Dockerfile path that exists there wins over the context's (kaniko). */
  cwd?: string;
  /** $HOME: config.json is looked up in <homeDir>/.docker unless registry.dockerConfigDir ($DOCKER_CONFIG) is given. */
  homeDir?: string;
  /** $SSL_CERT_DIR (":"-separated directories) and $SSL_CERT_FILE: CAs trusted for every registry besides the built-in roots. */
  sslCertDir?: string;
  sslCertFile?: string;
};

/** The defaults a caller may want to show (the CLI's --help); resolveOptions applies them. */
export const OPTION_DEFAULTS = {
  context: "/workspace/",
  dockerfile: "Dockerfile",
  /** --context-size-limit: 10 GiB. */
  contextSizeLimit: DEFAULT_CONTEXT_SIZE_LIMIT,
  compression: "gzip",
  snapshotMode: "full",
  retries: 0,
  cacheDir: "/cache",
  /** --cache-ttl: kaniko's 336h, as Go duration text (for --help) and in ms. */
  cacheTtl: "336h",
  cacheTtlMs: 336 * 3_600_000,
  /** kiln's directory in the in-place mode, which the image's files never overwrite. */
  inPlaceWorkDir: "/kaniko",
} as const;

export function resolveOptions(input: BuildOptionsInput): BuildOptions {
  const { ignoreVarRun = true, cwd, homeDir, sslCertDir, sslCertFile, ...rest } = input;
  // A field given as undefined is a field not given (the CLI maps a flag that is absent to undefined).
  const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as typeof rest;
  const mode = given.mode ?? "isolated";
  // In-place, kiln's own files (binary, CA certs, config.json) live in the kaniko dir.
  const workDir = given.workDir ?? (mode === "in-place" ? OPTION_DEFAULTS.inPlaceWorkDir : undefined);
  const kanikoDir = mode === "in-place" ? workDir : undefined;
  const registry = resolveRegistryOptions(given.registry, { kanikoDir, homeDir, sslCertDir, sslCertFile });
  return {
    context: OPTION_DEFAULTS.context,
    env: {},
    git: {},
    contextSizeLimit: OPTION_DEFAULTS.contextSizeLimit,
    destinations: [],
    noPush: false,
    buildArgs: {},
    platform: hostPlatform(),
    labels: {},
    skipPushPermissionCheck: false,
    compression: OPTION_DEFAULTS.compression,
    snapshotMode: OPTION_DEFAULTS.snapshotMode,
    singleSnapshot: false,
    reproducible: false,
    imageFsExtractRetry: OPTION_DEFAULTS.retries,
    cacheDir: OPTION_DEFAULTS.cacheDir,
    cache: { enabled: false, copyLayers: false, runLayers: true, write: true },
    cacheTtl: OPTION_DEFAULTS.cacheTtlMs,
    secrets: {},
    logger: silentLogger,
    cleanup: false,
    network: "private",
    tempDir: tmpdir(),
    ...given,
    mode,
    ...(workDir !== undefined ? { workDir } : {}),
    dockerfile: dockerfilePath(given.dockerfile ?? OPTION_DEFAULTS.dockerfile, cwd),
    ignorePaths: [...new Set([...(given.ignorePaths ?? []), ...(ignoreVarRun ? ["/var/run"] : [])])],
    registry,
  };
}

/** Where config.json and extra CAs come from, for builds and the warmer alike. */
export function resolveRegistryOptions(
  given: RegistryOptions | undefined, where: { kanikoDir?: string; homeDir?: string; sslCertDir?: string; sslCertFile?: string },
): RegistryOptions {
  const { kanikoDir, homeDir, sslCertDir, sslCertFile } = where;
  // An empty DOCKER_CONFIG or HOME names no directory.
  const dockerConfigDir = given?.dockerConfigDir || (kanikoDir ? join(kanikoDir, ".docker") : homeDir && join(homeDir, ".docker"));
  const caFiles = given?.caFiles
    ?? trustedCaFiles([...(kanikoDir ? [join(kanikoDir, "ssl/certs")] : []), ...(sslCertDir ?? "").split(":").filter(Boolean)], sslCertFile);
  const registry: RegistryOptions = { ...given, dockerConfigDir: dockerConfigDir || undefined, ...(caFiles.length ? { caFiles } : {}) };
  if (registry.dockerConfigDir === undefined) delete registry.dockerConfigDir;
  return registry;
}

/** kaniko looks a relative Dockerfile up in the caller's directory first; build() then tries the context. */
function dockerfilePath(path: string, cwd: string | undefined): string {
  if (cwd === undefined || isAbsolute(path) || /^https?:\/\//.test(path)) return path;
  return existsSync(join(cwd, path)) ? resolve(cwd, path) : path;
}

/** CA files (*.pem, *.crt) in `dirs`, in order, then `file` when it exists. */
export function trustedCaFiles(dirs: string[], file: string | undefined): string[] {
  const files: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try { names = readdirSync(d).sort(); } catch { continue; }
    for (const n of names) if (/\.(pem|crt)$/.test(n)) files.push(join(d, n));
  }
  if (file && existsSync(file)) files.push(file);
  return [...new Set(files)];
}
