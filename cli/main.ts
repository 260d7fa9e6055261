#!/usr/bin/env bun
// Entry point: executor (default) | warmer | the sandbox helper kiln starts for RUN.
import { HELPER_SUBCOMMAND, sandboxHelperMain } from "../mod.ts";

if (process.argv[2] === HELPER_SUBCOMMAND) sandboxHelperMain();
