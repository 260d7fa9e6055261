// COPY and local ADD: sources from the context (minus .dockerignore), another stage, or heredocs.
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { AddInstruction, CopyInstruction } from "../dockerfile/mod.ts";
import { resolveSource, type ResolvedSource } from "../context/mod.ts";
import { resolveUser } from "../rootfs/mod.ts";
import type { StepContext } from "./context.ts";
import { copyInto, CopyError } from "./copy-files.ts";
import { InstructionError } from "./metadata.ts";
import { resolveAgainst } from "./paths.ts";
import type { StageState, StepResult } from "./state.ts";

export function parseChmod(spec: string, what: string): number {
  if (!/^[0-7]{1,4}$/.test(spec)) {
    throw new InstructionError(`${what}: --chmod=${spec} is not an octal mode (symbolic modes are not supported yet)`);
  }
  return parseInt(spec, 8);
}

export async function executeCopy(instr: CopyInstruction | AddInstruction, state: StageState, ctx: StepContext): Promise<StepResult> {
  const what = `${instr.kind} (line ${instr.line})`;
  for (const opt of ["link", "parents"] as const) {
    if (opt === "parents" && instr.kind === "COPY" && instr.parents) throw new InstructionError(`${what}: --parents is not supported yet`);
  }
  if (instr.exclude.length) throw new InstructionError(`${what}: --exclude is not supported yet`);
  if (instr.kind === "ADD") {
    const remote = instr.sources.find((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith("git@"));
    if (remote) throw new InstructionError(`${what}: remote sources (${remote}) are not supported yet`);
  }
  const owner = instr.chown ? await resolveUser(ctx.rootDir, instr.chown) : { uid: 0, gid: 0 };
  const mode = instr.chmod ? parseChmod(instr.chmod, what) : undefined;
  let dest = resolveAgainst(state.config.config.WorkingDir, instr.dest);
  if (/(^|\/)\.$/.test(instr.dest) && !dest.endsWith("/")) dest += "/";

  const from = instr.kind === "COPY" ? instr.from : undefined;
  const srcRoot = from !== undefined ? await ctx.fromRoot(from) : ctx.buildContext.dir;
  const ignore = from !== undefined ? undefined : ctx.buildContext.ignore;
  const sources: ResolvedSource[] = [];
  for (const s of instr.sources) sources.push(...resolveSource(srcRoot, s, ignore, what));

  let heredocDir: string | undefined;
  try {
    if (instr.heredocSources.length) {
      heredocDir = mkdtempSync(join(ctx.tmpDir, "heredoc-"));
      for (const h of instr.heredocSources) {
        const p = join(heredocDir, h.name);
        writeFileSync(p, h.content);
        chmodSync(p, 0o644);
        sources.push({ abs: p, rel: h.name, isDir: false });
      }
    }
    if (sources.length === 0) throw new InstructionError(`${what}: no source files were specified (no file matched ${instr.sources.join(" ")})`);
    let written: string[];
    try {
      written = copyInto(ctx.rootDir, sources, dest, { owner, mode, what });
    } catch (e) {
      if (e instanceof CopyError) throw new InstructionError(e.message);
      throw e;
    }
    return { state, changes: { kind: "paths", paths: written }, createdBy: `${instr.original} # buildkit` };
  } finally {
    if (heredocDir) rmSync(heredocDir, { recursive: true, force: true });
  }
}
