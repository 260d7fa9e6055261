// kaniko-compatible flags (pflag style: --flag=value, --flag value, bare booleans, repeatable lists) -> BuildOptions.
import { Command, Option } from "commander";
import { basename, isAbsolute, resolve } from "node:path";
import type { BuildOptionsInput, Logger, LogFormat, Level, Platform, RegistryOptions, SecretSource, WarmOptionsInput } from "../mod.ts";
import { existsSync, statSync } from "node:fs";
import { credentialsFromEnv, OPTION_DEFAULTS, parseDuration, parsePlatform, parseLevel } from "../mod.ts";

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

const list = (v: string, prev: string[] = []) => [...prev, v];

/** Booleans accept a bare flag or =true/=false, as Go's pflag does. */
function parseBool(flag: string, v: unknown): boolean {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  const s = String(v).toLowerCase();
  if (["1", "t", "true"].includes(s)) return true;
  if (["0", "f", "false"].includes(s)) return false;
  throw new FlagError(`--${flag}: "${v}" is not a boolean (use true or false)`);
}

function keyValues(flag: string, items: string[] = [], sep = "="): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf(sep);
    if (i <= 0) throw new FlagError(`--${flag}: "${item}" must be KEY${sep}VALUE`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

const BOOL = [
  "insecure", "skip-tls-verify", "insecure-pull", "skip-tls-verify-pull", "push-ignore-immutable-tag-errors", "single-snapshot",
  "reproducible", "no-push-cache", "cache", "compressed-caching", "cleanup", "skip-default-registry-fallback", "ignore-var-run",
  "skip-unused-stages", "use-new-run", "cache-copy-layers", "cache-run-layers", "force-build-metadata", "skip-push-permission-check",
  "log-timestamp", "force",
] as const;

/** Flags kiln accepts for kaniko compatibility but does not act on yet: using one gets a warning, not silence. */
const NOT_YET = new Set([
  "use-new-run", "force-build-metadata",
]);

/** What --help says of the boolean flags that need a word (the others are kaniko's and self-explanatory). */
const BOOL_HELP: Partial<Record<(typeof BOOL)[number], string>> = {
  cache: "use the layer cache: steps are looked up in --cache-repo before they run, and stored there after",
  "cache-run-layers": "cache RUN layers (default true)",
  "cache-copy-layers": "cache COPY and ADD layers too (default false, as kaniko)",
  "no-push-cache": "read the layer cache but never write it",
  "skip-unused-stages": "build only the stages the target needs (kiln's default, as BuildKit); =false builds every stage up to the target, as kaniko without the flag",
  cleanup: "in-place mode: remove the files the build unpacked over / when it ends (the isolated mode always removes its build roots)",
  "compressed-caching": "accepted for kaniko compatibility: kiln never holds layers in memory, compressed or not",
};

const LOG_FORMAT_HELP = "text, color or json (default: color when stderr is a terminal and NO_COLOR is unset, else text)";

/** A command that throws on bad flags instead of printing and exiting (main.ts prints one line). */
function quietCommand(name: string, description: string): Command {
  return new Command(name).description(description).exitOverride().configureOutput({ writeErr: () => {} }).allowExcessArguments(false);
}

export function executorCommand(): Command {
  const c = quietCommand("executor", "Build a container image from a Dockerfile and push it, without a Docker daemon")
    .option("-c, --context <path>", withDefault("build context: a path, dir://PATH, tar://PATH.tar.gz, tar://stdin, s3://BUCKET/KEY, gs://BUCKET/PATH, git://REPO[#REF][#COMMIT], https://HOST/PATH.git, https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB or https://HOST/PATH.tar.gz", OPTION_DEFAULTS.context))
    .option("--context-sub-path <path>", "sub-path of the context to use")
    .option("--context-size-limit <size>", withDefault("the most a fetched context's tar may hold: bytes, or a number with KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)", "10GiB"))
    .option("-f, --dockerfile <path>", withDefault("path or http(s) URL of the Dockerfile", OPTION_DEFAULTS.dockerfile))
    .option("-d, --destination <ref>", "image to push (repeatable)", list)
    .addOption(new Option("--no-push [bool]", "build without pushing"))
    .option("--tar-path <path>", "also write the image as a docker-archive tarball")
    .option("--oci-layout-path <path>", "also write the image as an OCI image layout")
    .option("--digest-file <path>", "write the image digest to this file")
    .option("--image-name-with-digest-file <path>", "write repo@digest for each destination")
    .option("--image-name-tag-with-digest-file <path>", "write repo:tag@digest for each destination")
    .option("--build-arg <arg>", "NAME=VALUE, or NAME to take it from the environment (repeatable)", list)
    .option("--target <stage>", "stage to build")
    .option("--custom-platform <platform>", "platform of the image, e.g. linux/arm64")
    .option("--platform <platforms>", "comma-separated platforms (BuildKit's flag), e.g. linux/amd64,linux/arm64: one build per platform, output as one image index")
    .option("--label <kv>", "label KEY=VALUE added to the image (repeatable)", list);
  registryFlags(c)
    .option("--push-retry <n>", withDefault("retries for a failed push", OPTION_DEFAULTS.retries))
    .option("--image-fs-extract-retry <n>", withDefault("retries for a failed layer extraction", OPTION_DEFAULTS.retries))
    .option("--compression <codec>", withDefault("gzip or zstd", OPTION_DEFAULTS.compression))
    .option("--compression-level <n>", "compression level (codec-specific; 0 or less: the codec's default)")
    .option("--snapshot-mode <mode>", withDefault("full, redo or time", OPTION_DEFAULTS.snapshotMode))
    .option("--snapshotMode <mode>", "deprecated alias of --snapshot-mode")
    .option("--customPlatform <platform>", "deprecated alias of --custom-platform")
    .option("--tarPath <path>", "deprecated alias of --tar-path")
    .option("--kaniko-dir <dir>", "kiln's working directory")
    .option("--network <mode>", "network of RUN steps in the isolated mode: default (a private network with outbound access), host, or none")
    .option("--isolation <mode>", "how stages are built: isolated (own build root, RUN in a namespace sandbox) or in-place (root at /, kaniko's model; the default in the executor image)")
    .option("--cache-repo <repo>", "layer cache: a repository (default: the first destination's repository + /cache), or oci:DIR for an OCI image layout directory")
    .option("--cache-dir <dir>", withDefault("base-image cache directory the warmer fills; read before the registry when it exists", OPTION_DEFAULTS.cacheDir))
    .option("--cache-ttl <duration>", withDefault("cache entry lifetime (Go duration); older cached tag references are fetched again", OPTION_DEFAULTS.cacheTtl))
    .option("--ignore-path <path>", "path left out of snapshots (repeatable)", list)
    .option("--git <kv>", "git context options: branch=NAME, single-branch=BOOL, recurse-submodules=BOOL, insecure-skip-tls=BOOL (comma-separated or repeated)", list)
    .option("--secret <spec>", "secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR (repeatable)", list)
    .option("-v, --verbosity <level>", "panic, fatal, error, warn, info, debug or trace", "info")
    .option("--log-format <format>", LOG_FORMAT_HELP)
    .option("--whitelist-var-run [bool]", "deprecated alias of --ignore-var-run");
  for (const b of BOOL) c.option(`--${b} [bool]`, BOOL_HELP[b] ?? "");
  return c;
}

export interface ParsedLog { level: Level; format: LogFormat; timestamp: boolean }

export interface ParsedExecutor {
  options: Omit<BuildOptionsInput, "selfCommand" | "logger">;
  log: ParsedLog;
  force: boolean;
  /** --isolation; undefined = decided by where kiln runs (cli/mode.ts). */
  isolation?: "isolated" | "in-place";
  /** Warnings to print once a logger exists. */
  warnings: string[];
}

/** The pull side of the registry and TLS flags, shared by the executor and the warmer. */
function registryFlags(c: Command): Command {
  return c
    .option("--insecure-registry <reg>", "registry to reach over plain HTTP (repeatable)", list)
    .option("--skip-tls-verify-registry <reg>", "registry whose TLS certificate is not verified (repeatable)", list)
    .option("--registry-certificate <kv>", "REGISTRY=CA_PEM_PATH (repeatable)", list)
    .option("--registry-client-cert <kv>", "REGISTRY=CERT,KEY (repeatable)", list)
    .option("--registry-mirror <reg>", "mirror for Docker Hub (repeatable)", list)
    .option("--registry-map <kv>", "REGISTRY=MIRROR[;...] (repeatable)", list)
    .option("--image-download-retry <n>", withDefault("retries for a failed image download", OPTION_DEFAULTS.retries));
}

/**
 * pflag reads `-d=ref` as `-d ref`; commander would take "=ref" as the value. Split such short forms (before a
 * bare `--`) so both parsers agree.
 */
export function splitShortEquals(argv: string[]): string[] {
  const end = argv.indexOf("--");
  return argv.flatMap((a, i) => ((end < 0 || i < end) && /^-[A-Za-z]=/.test(a) ? [a.slice(0, 2), a.slice(3)] : [a]));
}

/** kaniko's `executor version`, and the `--version` users try first. */
export function wantsVersion(argv: string[]): boolean {
  return argv[0] === "version" || argv.includes("--version");
}

/** Parses argv with `c` and gives typed access to the values (flags not given stay undefined). */
function parseWith(c: Command, argv: string[]) {
  try {
    c.parse(splitShortEquals(argv), { from: "user" });
  } catch (e: any) {
    if (e?.code === "commander.helpDisplayed" || e?.code === "commander.version") throw e;
    throw new FlagError(String(e?.message ?? e).replace(/^error: /, ""));
  }
  const o = c.opts() as Record<string, any>;
  const given = (name: string) => c.getOptionValueSource(camel(name)) === "cli";
  const maybeFlag = (name: string) => (o[camel(name)] === undefined ? undefined : parseBool(name, o[camel(name)]));
  const flag = (name: string) => maybeFlag(name) ?? false;
  const int = (name: string) => {
    const text = o[camel(name)];
    if (text === undefined) return undefined;
    const v = Number(text);
    if (!Number.isInteger(v)) throw new FlagError(`--${name} "${text}" is not a whole number`);
    return v;
  };
  // Retry counts: kaniko's loops treat a negative count as none, which hides a typo.
  const count = (name: string) => {
    const v = int(name);
    if (v !== undefined && v < 0) throw new FlagError(`--${name} ${v}: give 0 or more retries`);
    return v;
  };
  const duration = (name: string) => {
    const text = o[camel(name)];
    if (text === undefined) return undefined;
    try {
      return parseDuration(text) / 1e6; // milliseconds, fractions kept
    } catch {
      throw new FlagError(`--${name}: invalid duration ${JSON.stringify(text)} (Go's syntax: a number and a unit, ns us ms s m h, e.g. 336h, 1h30m, 90s, 2h45m10.5s)`);
    }
  };
  // kaniko's default is "color"; kiln colours by default only where a person reads it, so a pipe or a CI log
  // file gets no escape codes (https://no-color.org). An explicit --log-format color always colours.
  const log = (env: Record<string, string | undefined>, terminal: boolean): ParsedLog => {
    const asked: string | undefined = o.logFormat;
    if (asked !== undefined && !["text", "color", "json"].includes(asked)) throw new FlagError(`--log-format "${asked}": use text, color or json`);
    const format = (asked ?? (terminal && !env.NO_COLOR ? "color" : "text")) as LogFormat;
    try {
      return { level: parseLevel(o.verbosity), format, timestamp: flag("log-timestamp") };
    } catch (e: any) {
      throw new FlagError(`--verbosity: ${e.message}`);
    }
  };
  const platform = (text: string | undefined) => {
    try { return text ? parsePlatform(text) : undefined; } catch (e: any) { throw new FlagError(`--custom-platform: ${e.message}`); }
  };
  const buildArgs = (env: Record<string, string | undefined>) => {
    const out: Record<string, string | undefined> = {};
    for (const a of o.buildArg ?? []) {
      const i = a.indexOf("=");
      if (i === 0) throw new FlagError(`--build-arg "${a}": the name is empty`);
      if (i < 0) out[a] = env[a];
      else out[a.slice(0, i)] = a.slice(i + 1);
    }
    return out;
  };
  // What both commands pull with; the executor adds its push side.
  const registry = (env: Record<string, string | undefined>, cwd: string): RegistryOptions => ({
    insecurePull: flag("insecure-pull"),
    insecureRegistries: o.insecureRegistry ?? [],
    skipTlsVerify: flag("skip-tls-verify"),
    skipTlsVerifyPull: flag("skip-tls-verify-pull"),
    skipTlsVerifyRegistries: o.skipTlsVerifyRegistry ?? [],
    certificates: certificates(o.registryCertificate, cwd),
    clientCerts: clientCerts(o.registryClientCert, cwd),
    registryMap: registryMap(o.registryMap, o.registryMirror, env),
    skipDefaultRegistryFallback: flag("skip-default-registry-fallback"),
    envCredentials: credentialsFromEnv(env),
    cloudEnv: env,
    dockerConfigDir: env.DOCKER_CONFIG,
    pullRetries: count("image-download-retry"),
  });
  const abs = (p: string | undefined, cwd: string) => (p === undefined || /^[a-z0-9]+:\/\//.test(p) || isAbsolute(p) ? p : resolve(cwd, p));
  return { o, given, maybeFlag, flag, int, count, duration, log, platform, buildArgs, registry, abs };
}

/**
 * Parses executor argv (without the program name). `env` supplies KANIKO_* fallbacks, bare --build-arg values and
 * NO_COLOR; `terminal`: stderr is a terminal (the log's default format is coloured only there).
 */
export function parseExecutorArgs(argv: string[], env: Record<string, string | undefined>, cwd: string, terminal = false): ParsedExecutor {
  const { o, given, maybeFlag, flag, int, count, duration, log: parseLogFlags, platform: parsePlatformFlag, buildArgs: parseBuildArgs, registry: pullRegistry, abs: absIn } =
    parseWith(executorCommand(), argv);
  const warnings: string[] = [];
  for (const name of NOT_YET) if (given(name)) warnings.push(`--${name} is accepted for kaniko compatibility but not implemented yet; it has no effect`);

  const abs = (p?: string) => absIn(p, cwd);
  // commander stores the negatable --no-push as `push`: false when bare, the string when given =value.
  let noPush = o.push === false ? true : typeof o.push === "string" ? parseBool("no-push", o.push) : false;
  if (!given("push") && env.KANIKO_NO_PUSH !== undefined) {
    try { noPush = parseBool("KANIKO_NO_PUSH", env.KANIKO_NO_PUSH); } catch { throw new FlagError(`KANIKO_NO_PUSH="${env.KANIKO_NO_PUSH}" is not a boolean`); }
  }
  const destinations: string[] = o.destination ?? [];
  if (!noPush && destinations.length === 0) throw new FlagError("give at least one --destination, or --no-push to build without pushing");
  if ((o.imageNameWithDigestFile || o.imageNameTagWithDigestFile) && destinations.length === 0) {
    throw new FlagError("--image-name-with-digest-file and --image-name-tag-with-digest-file need a --destination");
  }
  const buildArgs = parseBuildArgs(env);
  const compression: "gzip" | "zstd" | undefined = o.compression;
  if (compression !== undefined && compression !== "gzip" && compression !== "zstd") throw new FlagError(`--compression "${compression}": use gzip or zstd`);
  const snapshotMode = o.snapshotMode;
  if (snapshotMode !== undefined && !["full", "redo", "time"].includes(snapshotMode)) throw new FlagError(`--snapshot-mode "${snapshotMode}": use full, redo or time`);
  const log = parseLogFlags(env, terminal);
  let platform = parsePlatformFlag(o.customPlatform);
  // --platform a,b: one image per platform under an index; one platform means what --custom-platform means.
  let platforms: Platform[] | undefined;
  if (o.platform !== undefined) {
    if (platform) throw new FlagError("--platform and --custom-platform both name the platform: give one of them");
    const list = String(o.platform).split(",").map((t) => t.trim()).filter(Boolean);
    if (!list.length) throw new FlagError("--platform: give one or more platforms, e.g. linux/amd64,linux/arm64");
    platforms = list.map((t) => { try { return parsePlatform(t); } catch (e: any) { throw new FlagError(`--platform: ${e.message}`); } });
    if (platforms.length === 1) [platform, platforms] = [platforms[0], undefined];
  }
  const ignoreVarRun = maybeFlag("ignore-var-run") ?? maybeFlag("whitelist-var-run");
  const compressionLevel = int("compression-level");
  // kaniko applies the level only when > 0; above the codec's range it is an error, not a silent clamp.
  const codec = compression ?? OPTION_DEFAULTS.compression;
  const maxLevel = codec === "gzip" ? 9 : 22;
  if (compressionLevel !== undefined && compressionLevel > maxLevel) throw new FlagError(`--compression-level ${compressionLevel}: ${codec} levels are 1-${maxLevel}`);
  const sourceDateEpoch = epochFromEnv(env.SOURCE_DATE_EPOCH);
  return {
    options: {
      context: contextSpec(o.context, cwd),
      contextSubPath: o.contextSubPath,
      env,
      git: gitOptions(o.git),
      ...(o.contextSizeLimit !== undefined ? { contextSizeLimit: byteSize("context-size-limit", o.contextSizeLimit) } : {}),
      dockerfile: o.dockerfile,
      cwd,
      destinations,
      noPush,
      tarPath: abs(o.tarPath),
      ociLayoutPath: abs(o.ociLayoutPath),
      digestFile: abs(o.digestFile),
      imageNameWithDigestFile: abs(o.imageNameWithDigestFile),
      imageNameTagWithDigestFile: abs(o.imageNameTagWithDigestFile),
      buildArgs,
      target: o.target,
      ...(platform ? { platform } : {}),
      ...(platforms ? { platforms } : {}),
      labels: keyValues("label", o.label),
      registry: {
        ...pullRegistry(env, cwd),
        insecurePush: flag("insecure"),
        ignoreImmutableTagErrors: flag("push-ignore-immutable-tag-errors"),
        pushRetries: count("push-retry"),
      },
      skipPushPermissionCheck: flag("skip-push-permission-check"),
      homeDir: env.HOME,
      sslCertDir: env.SSL_CERT_DIR,
      sslCertFile: env.SSL_CERT_FILE,
      compression,
      ...(compressionLevel !== undefined && compressionLevel > 0 ? { compressionLevel } : {}),
      snapshotMode,
      singleSnapshot: flag("single-snapshot"),
      reproducible: flag("reproducible"),
      ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
      imageFsExtractRetry: count("image-fs-extract-retry"),
      cacheDir: abs(o.cacheDir),
      cacheTtl: duration("cache-ttl"),
      cache: {
        enabled: flag("cache"),
        ...(o.cacheRepo !== undefined ? { repo: o.cacheRepo.startsWith("oci:") ? `oci:${resolve(cwd, o.cacheRepo.slice(4))}` : o.cacheRepo } : {}),
        copyLayers: flag("cache-copy-layers"),
        runLayers: maybeFlag("cache-run-layers") ?? true,
        // commander stores the negatable --no-push-cache as `pushCache`, as it does --no-push.
        write: !(o.pushCache === false || (typeof o.pushCache === "string" && parseBool("no-push-cache", o.pushCache))),
      },
      workDir: o.kanikoDir ?? env.KANIKO_DIR,
      secrets: parseSecrets(o.secret, env, cwd),
      ignorePaths: o.ignorePath ?? [],
      ignoreVarRun,
      cleanup: flag("cleanup"),
      // Not given: only the stages the target needs, as BuildKit (kaniko builds all unless it is given).
      ...(given("skip-unused-stages") ? { skipUnusedStages: flag("skip-unused-stages") } : {}),
      ...(o.network !== undefined ? { network: networkFlag(o.network) } : {}),
    },
    log,
    force: flag("force"),
    ...(o.isolation !== undefined ? { isolation: isolationFlag(o.isolation) } : {}),
    warnings,
  };
}

const WARMER_BOOL: Record<string, string> = {
  "insecure-pull": "pull over plain HTTP",
  "skip-tls-verify": "do not verify registries' TLS certificates",
  "skip-tls-verify-pull": "do not verify TLS certificates when pulling",
  "skip-default-registry-fallback": "pull a mapped registry's images only from its mirrors",
  "log-timestamp": "timestamps in log lines",
};

/** kaniko's warmer flags (cmd/warmer): what to cache, where, and the executor's registry flags for pulling it. */
export function warmerCommand(): Command {
  const c = quietCommand("warmer", "Fetch base images into the base-image cache directory that the executor reads (--cache-dir) before the registry")
    .option("-i, --image <ref>", "image to cache (repeatable)", list)
    .option("-d, --dockerfile <path>", "cache every image the Dockerfile's FROM lines name (not stages or scratch); a path or an http(s) URL")
    .option("--build-arg <arg>", "NAME=VALUE for the Dockerfile's FROM lines, or NAME to take it from the environment (repeatable)", list)
    .option("-c, --cache-dir <dir>", withDefault("directory to cache the images in (an OCI image layout; created if missing)", OPTION_DEFAULTS.cacheDir))
    .option("--cache-ttl <duration>", withDefault("an image cached by tag longer ago than this is fetched again (Go duration); images cached by digest never expire", OPTION_DEFAULTS.cacheTtl))
    .option("--custom-platform <platform>", "platform to cache, e.g. linux/arm64 (default: this machine's)")
    .option("--customPlatform <platform>", "kaniko's spelling of --custom-platform");
  registryFlags(c)
    .option("-v, --verbosity <level>", "panic, fatal, error, warn, info, debug or trace", "info")
    .option("--log-format <format>", LOG_FORMAT_HELP);
  c.option("-f, --force [bool]", "fetch images again even when their cached copy is fresh");
  for (const [b, description] of Object.entries(WARMER_BOOL)) c.option(`--${b} [bool]`, description);
  return c;
}

export interface ParsedWarmer {
  options: Omit<WarmOptionsInput, "logger">;
  log: ParsedLog;
}

/** Parses warmer argv (without the program name or the "warmer" subcommand). */
export function parseWarmerArgs(argv: string[], env: Record<string, string | undefined>, cwd: string, terminal = false): ParsedWarmer {
  const { o, flag, duration, log, platform: parsePlatformFlag, buildArgs, registry, abs } = parseWith(warmerCommand(), argv);
  const images: string[] = o.image ?? [];
  if (images.length === 0 && o.dockerfile === undefined) throw new FlagError("give at least one --image or a --dockerfile whose FROM images to cache");
  const platform = parsePlatformFlag(o.customPlatform);
  return {
    options: {
      images,
      dockerfile: abs(o.dockerfile, cwd),
      buildArgs: buildArgs(env),
      cacheDir: abs(o.cacheDir, cwd),
      cacheTtl: duration("cache-ttl"),
      force: flag("force"),
      ...(platform ? { platform } : {}),
      registry: registry(env, cwd),
      homeDir: env.HOME,
      sslCertDir: env.SSL_CERT_DIR,
      sslCertFile: env.SSL_CERT_FILE,
    },
    log: log(env, terminal),
  };
}

/** A local context (a path, dir://PATH, tar://PATH) made absolute against `cwd`; other sources as they are. */
export function contextSpec(spec: string | undefined, cwd: string): string | undefined {
  if (spec === undefined) return undefined;
  const m = /^(dir|tar):\/\/(.*)$/s.exec(spec);
  if (m) return m[1] === "tar" && m[2] === "stdin" ? spec : `${m[1]}://${resolve(cwd, m[2])}`;
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(spec) ? spec : resolve(cwd, spec);
}

const GIT_KEYS = { "branch": "branch", "single-branch": "singleBranch", "recurse-submodules": "recurseSubmodules", "insecure-skip-tls": "insecureSkipTLS" } as const;

/** kaniko's --git KEY=VALUE, repeated or comma-separated (a part without "=" continues the previous value). */
export function gitOptions(items: string[] = []): { branch?: string; singleBranch?: boolean; recurseSubmodules?: boolean; insecureSkipTLS?: boolean } {
  const pairs: [string, string][] = [];
  for (const item of items) {
    for (const part of item.split(",")) {
      const i = part.indexOf("=");
      if (i < 0 && pairs.length) pairs[pairs.length - 1][1] += `,${part}`;
      else if (i <= 0) throw new FlagError(`--git "${item}": use KEY=VALUE with KEY one of ${Object.keys(GIT_KEYS).join(", ")}`);
      else pairs.push([part.slice(0, i).trim(), part.slice(i + 1)]);
    }
  }
  const out: ReturnType<typeof gitOptions> = {};
  for (const [k, v] of pairs) {
    const field = GIT_KEYS[k as keyof typeof GIT_KEYS];
    if (!field) throw new FlagError(`--git "${k}=${v}": unknown key "${k}"; use ${Object.keys(GIT_KEYS).join(", ")}`);
    if (field === "branch") out.branch = v || undefined;
    else out[field] = parseBool(`git ${k}`, v);
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4 };

/** "10GiB", "500MB", "1048576": a byte count. */
export function byteSize(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new FlagError(`--${flag} "${text}": give a size such as 10GiB, 500MB or a number of bytes`);
  return Math.floor(Number(m[1]) * unit);
}

/** SOURCE_DATE_EPOCH as the reproducible-builds spec defines it: whole seconds; empty means unset. */
function epochFromEnv(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new FlagError(`SOURCE_DATE_EPOCH="${v}" is not a whole number of seconds since 1970`);
  return Number(v);
}

// A certificate path that is not a readable file would only fail at the first TLS handshake, after the build.
function certFile(flag: string, item: string, path: string, cwd: string): string {
  const st = statSync(resolve(cwd, path), { throwIfNoEntry: false });
  if (!st) throw new FlagError(`--${flag} "${item}": ${path} does not exist`);
  if (!st.isFile()) throw new FlagError(`--${flag} "${item}": ${path} is not a file`);
  return path;
}

/** --registry-certificate REGISTRY=CA_PEM_PATH (repeatable). */
function certificates(items: string[] = [], cwd: string): Record<string, string> {
  const out = keyValues("registry-certificate", items);
  for (const [registry, path] of Object.entries(out)) certFile("registry-certificate", `${registry}=${path}`, path, cwd);
  return out;
}

/** --registry-client-cert REGISTRY=CERT,KEY (repeatable). */
function clientCerts(items: string[] = [], cwd: string): Record<string, { cert: string; key: string }> {
  const out: Record<string, { cert: string; key: string }> = {};
  for (const [registry, v] of Object.entries(keyValues("registry-client-cert", items))) {
    const parts = v.split(",");
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new FlagError(`--registry-client-cert "${registry}=${v}" must be REGISTRY=CERT_PATH,KEY_PATH`);
    for (const p of parts) certFile("registry-client-cert", `${registry}=${v}`, p, cwd);
    out[registry] = { cert: parts[0], key: parts[1] };
  }
  return out;
}

/**
 * --registry-map REGISTRY=MIRROR[;REGISTRY=MIRROR|;MIRROR] (repeatable, a bare MIRROR after ";" adds to the previous
 * registry) plus KANIKO_REGISTRY_MAP in the same syntax; --registry-mirror and KANIKO_REGISTRY_MIRROR (";"-separated)
 * are mirrors of Docker Hub. Mirrors keep the order given: flags first, then the environment.
 */
function registryMap(maps: string[] = [], mirrors: string[] = [], env: Record<string, string | undefined>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (k: string, v: string) => (out[k] ??= []).push(v);
  const fromMap = (text: string, source: string) => {
    let last: string | undefined;
    for (const item of text.split(";").map((s) => s.trim()).filter(Boolean)) {
      const i = item.indexOf("=");
      if (i === 0 || i === item.length - 1 || (i < 0 && !last)) throw new FlagError(`${source} "${text}": each entry must be REGISTRY=MIRROR[/PREFIX]`);
      if (i > 0) last = item.slice(0, i);
      add(last!, i > 0 ? item.slice(i + 1) : item);
    }
  };
  for (const m of maps) fromMap(m, "--registry-map");
  if (env.KANIKO_REGISTRY_MAP) fromMap(env.KANIKO_REGISTRY_MAP, "KANIKO_REGISTRY_MAP");
  const hub = [...mirrors, ...(env.KANIKO_REGISTRY_MIRROR ?? "").split(";")].flatMap((m) => m.split(";")).map((m) => m.trim()).filter(Boolean);
  for (const m of hub) add("index.docker.io", m);
  return out;
}

/**
 * --secret as `docker buildx build --secret` reads it: id=ID plus src=PATH (a file) or env=VAR, type=file|env; the id
 * defaults to the file's base name; with neither src nor env, the variable named ID if set, else the file ID.
 * Env values are read here (nothing below cli/ reads the environment); files are read when a RUN mounts them.
 */
function parseSecrets(items: string[] = [], env: Record<string, string | undefined>, cwd: string): Record<string, SecretSource> {
  const out: Record<string, SecretSource> = {};
  for (const item of items) {
    const f: Record<string, string> = {};
    for (const field of item.split(",")) {
      const i = field.indexOf("=");
      const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
      if (!["id", "src", "source", "env", "type"].includes(key) || i < 0) throw new FlagError(`--secret "${item}": unexpected field "${field}" (use id=ID,src=PATH or id=ID,env=VAR)`);
      f[key === "source" ? "src" : key] = field.slice(i + 1);
    }
    if (f.type !== undefined && f.type !== "file" && f.type !== "env") throw new FlagError(`--secret "${item}": type must be file or env`);
    const id = f.id ?? (f.src !== undefined ? basename(f.src) : "");
    if (!id) throw new FlagError(`--secret "${item}": give the secret an id (id=ID)`);
    const fromEnv = f.type === "env" || (f.type === undefined && f.src === undefined && (f.env !== undefined || env[id] !== undefined));
    if (fromEnv) {
      const name = f.env ?? f.src ?? id;
      const value = env[name];
      if (value === undefined) throw new FlagError(`--secret id=${id}: environment variable ${name} is not set`);
      out[id] = { value };
    } else {
      const file = resolve(cwd, f.src ?? id);
      if (!existsSync(file)) throw new FlagError(`--secret id=${id}: file ${file} does not exist`);
      out[id] = { file };
    }
  }
  return out;
}

/** commander's "(default: ...)" for a default that resolveOptions applies, not commander. */
function withDefault(description: string, value: string | number): string {
  return `${description} (default: ${JSON.stringify(value)})`;
}

function camel(name: string): string {
  if (name === "no-push") return "push";
  return name.replace(/-([a-z])/g, (_, ch) => ch.toUpperCase());
}

function networkFlag(v: string): "private" | "host" | "none" {
  if (v === "default" || v === "private") return "private";
  if (v === "host" || v === "none") return v;
  throw new FlagError(`--network "${v}": use default, host or none`);
}

function isolationFlag(v: string): "isolated" | "in-place" {
  if (v !== "isolated" && v !== "in-place") throw new FlagError(`--isolation "${v}": use isolated or in-place`);
  return v;
}

export type { Logger };
