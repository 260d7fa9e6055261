// One entry point for every instruction: expand once, then execute against the stage state.
import type { Instruction } from "../dockerfile/mod.ts";
import type { StepContext } from "./context.ts";
import type { StageState, StepResult } from "./state.ts";
import { applyArg, applyMetadata, commandArgv, InstructionError } from "./metadata.ts";
import { executeRun, shellScript } from "./run.ts";
import { executeCopy } from "./copy.ts";
import { executeAdd } from "./add.ts";
import { executeWorkdir } from "./workdir.ts";
import { copyCreatedBy, runCreatedBy } from "./history.ts";
import { runArgPairs } from "./state.ts";

export type { StepContext } from "./context.ts";
export type { StageState, StepResult, Changes } from "./state.ts";
export { lookupFor, envMap, setEnv, PROXY_ARGS } from "./state.ts";
export { InstructionError, commandArgv, withLabels } from "./metadata.ts";
export { RunFailedError } from "./run.ts";
export { MountResources, type SecretSource } from "./mounts.ts";

/** Static facts per instruction, in one table. */
export const traits: Record<Exclude<Instruction["kind"], "FROM">, { needsRootfs: boolean }> = {
  RUN: { needsRootfs: true }, COPY: { needsRootfs: true }, ADD: { needsRootfs: true }, WORKDIR: { needsRootfs: true },
  CMD: { needsRootfs: false }, ENTRYPOINT: { needsRootfs: false }, SHELL: { needsRootfs: false }, ENV: { needsRootfs: false },
  ARG: { needsRootfs: false }, LABEL: { needsRootfs: false }, EXPOSE: { needsRootfs: false }, VOLUME: { needsRootfs: false },
  USER: { needsRootfs: false }, STOPSIGNAL: { needsRootfs: false }, HEALTHCHECK: { needsRootfs: false },
  ONBUILD: { needsRootfs: false }, MAINTAINER: { needsRootfs: false },
};

/** Executes one already-expanded instruction. `ctx` is required for instructions whose trait says needsRootfs. */
export async function execute(instr: Instruction, state: StageState, ctx: StepContext): Promise<StepResult> {
  switch (instr.kind) {
    case "FROM":
      throw new InstructionError("FROM is handled by the build, not as a step");
    case "RUN": {
      // History is BuildKit's: every ARG declared so far in the stage, then the argv (mounts and secrets never appear).
      const script = shellScript(instr);
      const argv = script !== undefined ? commandArgv({ form: "shell", text: script }, state.config.config.Shell) : commandArgv(instr.cmd, state.config.config.Shell);
      return { ...(await executeRun(instr, state, ctx)), createdBy: runCreatedBy(argv, runArgPairs(state)) };
    }
    case "COPY":
      return { ...(await executeCopy(instr, state, ctx)), createdBy: copyCreatedBy(instr) };
    case "ADD":
      return { ...(await executeAdd(instr, state, ctx)), createdBy: copyCreatedBy(instr) };
    case "WORKDIR":
      return executeWorkdir(instr, state, ctx);
    case "ARG":
      return { state: applyArg(instr, state, ctx.buildArgs, ctx.metaArgs), changes: { kind: "none" }, createdBy: applyMetadata(instr, state).createdBy };
    default:
      return { ...applyMetadata(instr, state), changes: { kind: "none" } };
  }
}
