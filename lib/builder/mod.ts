export { build, type BuildResult } from "./build.ts";
export { resolveOptions, OPTION_DEFAULTS, type BuildOptions, type BuildOptionsInput } from "./options.ts";
export { BuildError, BuildInterruptedError } from "./errors.ts";
export { VERSION } from "./version.ts";
export { formatError } from "./format-error.ts";
export { warm, type WarmOptions, type WarmOptionsInput, type WarmResult } from "./warm.ts";
