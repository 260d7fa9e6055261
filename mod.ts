// kiln's public library API. cli/ imports only this file.
export {
  build, resolveOptions, OPTION_DEFAULTS, BuildError, BuildInterruptedError, VERSION, formatError, type BuildOptions, type BuildOptionsInput, type BuildResult,
  warm, type WarmOptionsInput, type WarmResult,
} from "./lib/builder/mod.ts";
export { parseDockerfile, parseDuration, DockerfileError } from "./lib/dockerfile/mod.ts";
export { runIsolated, sandboxHelperMain, HELPER_SUBCOMMAND } from "./lib/sandbox/mod.ts";
export { RunFailedError, type SecretSource } from "./lib/instructions/mod.ts";
export { createLogger, parseLevel, type Logger, type Level, type LogFormat } from "./lib/log/mod.ts";
export { parsePlatform, parseReference, type Image, type Platform } from "./lib/image/mod.ts";
export { RegistryClient, RegistryError, credentialsFromEnv, type RegistryOptions } from "./lib/registry/mod.ts";
