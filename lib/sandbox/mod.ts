export { sandboxHelperMain, HELPER_SUBCOMMAND, SandboxError } from "./run.ts";
export { runIsolated, reapRuns, findRuntime } from "./runc.ts";
export { runInPlace, netNamespaceUnavailable } from "./inplace.ts";
export type { RunSpec, SandboxOptions } from "./run.ts";
export type { SandboxMount } from "./mounts.ts";
export { setTimesNs } from "./libc.ts";
export { abortRuns } from "./lifecycle.ts";
export { SANDBOX_HOSTNAME } from "./spec.ts";
export { runNetwork, closeNetwork, PRIVATE_NAMESERVER, type RunNetwork } from "./network.ts";
