// parseDockerfile: text -> logical lines -> typed instructions -> stages and meta ARGs.
import { DockerfileError, ParseFailure } from "./errors.ts";
import { parseInstruction } from "./instructions.ts";
import { LineFailure, splitLines, type Lines } from "./lines.ts";
import type { ArgInstruction, Dockerfile, Instruction, Stage, Warning } from "./types.ts";

export interface ParseOptions {
  /** Name used in errors and warnings, e.g. "Dockerfile" or "ci/Dockerfile.prod". */
  file: string;
}

const MAX_SOURCE_LINES = 5;

/** docker/dockerfile (or -upstream) at any tag or digest, with or without the docker.io prefix. */
const STANDARD_FRONTEND = /^(?:(?:docker\.io|index\.docker\.io)\/)?docker\/dockerfile(?:-upstream)?(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

// `# check=skip=A,B` or `skip=all` silences warnings; `error=true` turns them into errors.
function checkPolicy(directive: string | undefined): { skip: (rule: string) => boolean; error: boolean } {
  const skip = new Set<string>();
  let error = false;
  for (const part of (directive ?? "").split(";")) {
    const [k, v = ""] = part.split("=", 2).map((s) => s.trim());
    if (k === "skip") for (const r of v.split(",")) skip.add(r.trim().toLowerCase());
    if (k === "error") error = v.toLowerCase() === "true";
  }
  return { skip: (rule) => skip.has("all") || skip.has(rule.toLowerCase()), error };
}

export function parseDockerfile(text: string, opts: ParseOptions): Dockerfile {
  const physical = text.split("\n");
  const source = (from: number, to: number) =>
    physical
      .slice(from - 1, Math.min(to, from + MAX_SOURCE_LINES - 1))
      .map((l) => l.replace(/\r$/, ""))
      .join("\n");
  const error = (line: number, endLine: number, reason: string) =>
    new DockerfileError(opts.file, line, reason, source(line, endLine));

  let lines: Lines;
  try {
    lines = splitLines(text);
  } catch (e) {
    if (e instanceof LineFailure) throw error(e.line, e.endLine, e.reason);
    throw e;
  }
  if (lines.lines.length === 0) throw error(1, 1, "file with no instructions");

  const policy = checkPolicy(lines.directives.check);
  const warnings: Warning[] = lines.warnings.filter((w) => !policy.skip(w.rule));
  const syntax = lines.directives.syntax;
  if (syntax !== undefined && !STANDARD_FRONTEND.test(syntax)) {
    // kiln cannot run another frontend image (no daemon, maybe no network): say so instead of silently differing.
    warnings.push({
      rule: "ExternalFrontend",
      line: 1,
      message: `# syntax=${syntax} names an external frontend, which kiln does not fetch; the Dockerfile is parsed with kiln's built-in frontend (docker/dockerfile:1 syntax)`,
    });
  }
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, number>();

  for (const node of lines.lines) {
    let instr: Instruction;
    try {
      instr = parseInstruction(node, {
        escape: lines.escape,
        warn: (w) => {
          if (!policy.skip(w.rule)) warnings.push({ ...w, line: node.line });
        },
      });
    } catch (e) {
      if (e instanceof ParseFailure) throw error(node.line, node.endLine, e.message);
      throw e;
    }
    if (instr.kind === "FROM") {
      if (instr.name !== undefined) {
        if (names.has(instr.name)) throw error(node.line, node.endLine, `duplicate stage name ${JSON.stringify(instr.name)}`);
        names.set(instr.name, stages.length);
      }
      stages.push({
        index: stages.length,
        name: instr.name,
        base: instr.image,
        platform: instr.platform,
        line: instr.line,
        from: instr,
        instructions: [],
      });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) current.instructions.push(instr);
    else if (instr.kind === "ARG") metaArgs.push(instr);
    else throw error(node.line, node.endLine, "no build stage in current context");
  }
  if (stages.length === 0) throw error(1, 1, "dockerfile contains no stages to build");
  if (policy.error && warnings.length > 0) {
    const w = warnings[0];
    throw error(w.line, w.line, `lint violation: ${w.rule}: ${w.message}`);
  }
  return { file: opts.file, escape: lines.escape, directives: lines.directives, warnings, metaArgs, stages };
}
