// Everything a build needs, in one object; defaults live in resolveOptions() and nowhere else.
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { Platform } from "../image/mod.ts";
import type { SecretSource } from "../instructions/mod.ts";
import { hostPlatform } from "../image/mod.ts";
import { tmpdir } from "node:os";

export interface BuildOptions {
  /** `dir://PATH` or a path. */
  context: string;
  contextSubPath?: string;
  /** Dockerfile path; relative paths are tried against the current directory, then the context. */
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
  labels: Record<string, string>;
  registry: {
    insecure: boolean;
    insecurePull: boolean;
    insecureRegistries: string[];
    skipTlsVerify: boolean;
    skipTlsVerifyPull: boolean;
    skipTlsVerifyRegistries: string[];
    certificates: Record<string, string>;
    /** registry -> client certificate and key paths (mutual TLS) */
    clientCerts: Record<string, { cert: string; key: string }>;
    /** registry -> mirrors tried in order for pulls ("host[/prefix]"); Docker Hub is index.docker.io */
    registryMap: Record<string, string[]>;
    skipDefaultRegistryFallback: boolean;
    ignoreImmutableTagErrors: boolean;
    /** do not start and cancel an upload to each destination before building */
    skipPushPermissionCheck: boolean;
    /** registry -> credentials the CLI found in the environment (GitLab CI, DOCKER_<host>_USR/_PSW) */
    envCredentials: Record<string, { username: string; password: string }>;
    /** PEM files of CAs trusted for every registry besides the built-in roots (/kaniko/ssl/certs, SSL_CERT_DIR). */
    caFiles?: string[];
    dockerConfigDir?: string;
    pushRetry: number;
    imageDownloadRetry: number;
  };
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

export type BuildOptionsInput = Omit<Partial<BuildOptions>, "registry"> & Pick<BuildOptions, "context" | "selfCommand"> & {
  registry?: Partial<BuildOptions["registry"]>;
};

export function resolveOptions(input: BuildOptionsInput): BuildOptions {
  return {
    dockerfile: "Dockerfile",
    destinations: [],
    noPush: false,
    buildArgs: {},
    platform: hostPlatform(),
    labels: {},
    compression: "gzip",
    snapshotMode: "full",
    singleSnapshot: false,
    reproducible: false,
    imageFsExtractRetry: 0,
    ignorePaths: [],
    secrets: {},
    logger: silentLogger,
    mode: "isolated",
    cleanup: false,
    network: "private",
    tempDir: tmpdir(),
    ...input,
    // In-place, kiln's files live in the kaniko dir, which the image's files never overwrite.
    ...(input.mode === "in-place" && !input.workDir ? { workDir: "/kaniko" } : {}),
    registry: {
      insecure: false,
      insecurePull: false,
      insecureRegistries: [],
      skipTlsVerify: false,
      skipTlsVerifyPull: false,
      skipTlsVerifyRegistries: [],
      certificates: {},
      clientCerts: {},
      registryMap: {},
      skipDefaultRegistryFallback: false,
      ignoreImmutableTagErrors: false,
      skipPushPermissionCheck: false,
      envCredentials: {},
      pushRetry: 0,
      imageDownloadRetry: 0,
      ...input.registry,
    },
  };
}
