// One entry point for every instruction: expand once, then execute against the stage state.
import type { Instruction } from "../dockerfile/mod.ts";
import type { StepContext } from "./context.ts";
import type { StageState, StepResult } from "./state.ts";
import { applyArg, applyMetadata, InstructionError } from "./metadata.ts";
import { executeRun } from "./run.ts";
import { executeCopy } from "./copy.ts";
import { executeAdd } from "./add.ts";
import { executeWorkdir } from "./workdir.ts";

export type { StepContext } from "./context.ts";
export type { StageState, StepResult, Changes } from "./state.ts";
export { lookupFor, envMap, setEnv, PROXY_ARGS } from "./state.ts";
export { InstructionError, commandArgv, withLabels, sortedConfig } from "./metadata.ts";
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
    case "RUN":
      return executeRun(instr, state, ctx);
    case "COPY":
      return executeCopy(instr, state, ctx);
    case "ADD":
      return executeAdd(instr, state, ctx);
    case "WORKDIR":
      return executeWorkdir(instr, state, ctx);
    case "ARG":
      return { state: applyArg(instr, state, ctx.buildArgs, ctx.metaArgs), changes: { kind: "none" }, createdBy: applyMetadata(instr, state).createdBy };
    default:
      return { ...applyMetadata(instr, state), changes: { kind: "none" } };
  }
}
