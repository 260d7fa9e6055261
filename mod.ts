// kiln's public library API.
export { runIsolated, sandboxHelperMain, HELPER_SUBCOMMAND } from "./lib/sandbox/mod.ts";
