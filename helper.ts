// The in-place RUN helper's entry, apart from mod.ts so that the helper process (one per RUN) loads only its own
// code: importing mod.ts evaluates all of kiln.
export { HELPER_SUBCOMMAND, sandboxHelperMain } from "./lib/sandbox/helper.ts";
