export { runIsolated, sandboxHelperMain, HELPER_SUBCOMMAND, SandboxError } from "./run.ts";
export { runInPlace } from "./inplace.ts";
export type { RunSpec, SandboxOptions } from "./run.ts";
export type { SandboxMount } from "./mounts.ts";
export { setTimesNs } from "./libc.ts";
export { abortAllRuns, reapRuns } from "./lifecycle.ts";
