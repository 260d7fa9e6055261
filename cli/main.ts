#!/usr/bin/env bun
// kiln's entry. An in-place build starts kiln again for every RUN (the helper subcommand), so that case is
// dispatched before anything else is loaded: the helper's process evaluates helper.ts and its few imports, not the
// builder (built with --splitting, commands.ts and everything under it is a chunk loaded only on import).
import { HELPER_SUBCOMMAND, sandboxHelperMain } from "../helper.ts";

if (process.argv[2] === HELPER_SUBCOMMAND) sandboxHelperMain();
await import("./commands.ts");
