// The Dockerfile frontend: text -> typed instructions grouped into stages, plus expansion helpers.
export { parseDockerfile } from "./parse.ts";
export type { ParseOptions } from "./parse.ts";
export { expandInstruction } from "./expand.ts";
export { resolveMetaArgs, resolveStageBase } from "./args.ts";
export type { ArgValues, ResolvedBase } from "./args.ts";
export { DockerfileError, formatError } from "./errors.ts";
export { INSTRUCTION_KINDS } from "./instructions.ts";
export { parseDuration } from "./duration.ts";
export type * from "./types.ts";
