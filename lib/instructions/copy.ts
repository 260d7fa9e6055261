// COPY (and ADD's local files): sources from the context (minus .dockerignore), another stage or image, or
// heredocs; --chown, --chmod (octal or symbolic), --parents, --exclude, --link (accepted: same result).
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from "node:fs";
import { join, posix } from "node:path";
import type { AddInstruction, CopyInstruction } from "../dockerfile/mod.ts";
import { resolveSource, SourceFilter, type ResolvedSource } from "../context/mod.ts";
import { resolveUser } from "../rootfs/mod.ts";
import { ChmodError, parseChmod, type ModeFn } from "./chmod.ts";
import type { StepContext } from "./context.ts";
import { copyInto, CopyError, type CopyOptions, type Ownership } from "./copy-files.ts";
import { InstructionError } from "./metadata.ts";
import { resolveAgainst } from "./paths.ts";
import type { StageState, StepResult } from "./state.ts";
import { copyCreatedBy } from "./history.ts";

/** --chown: names from the stage's /etc/passwd and /etc/group; a bare numeric uid is also the gid (Docker's rule). */
export async function copyOwner(rootDir: string, chown: string | undefined): Promise<Ownership> {
  if (!chown) return { uid: 0, gid: 0 };
  if (/^\d+$/.test(chown)) return { uid: Number(chown), gid: Number(chown) };
  const u = await resolveUser(rootDir, chown);
  return { uid: u.uid, gid: u.gid };
}

export function copyMode(chmod: string | undefined, what: string): ModeFn | undefined {
  if (chmod === undefined) return undefined;
  try {
    return parseChmod(chmod);
  } catch (e) {
    if (e instanceof ChmodError) throw new InstructionError(`${what}: ${e.message}`);
    throw e;
  }
}

/** The in-root destination: relative to WORKDIR; "." and a trailing "/" mean a directory. */
export function copyDest(state: StageState, dest: string): string {
  let d = resolveAgainst(state.config.config.WorkingDir, dest);
  if (/(^|\/)\.$/.test(dest) && !d.endsWith("/")) d += "/";
  return d;
}

/** --from: a stage, else an image; a failure names the flag (a mistyped stage name ends up as an image pull). */
async function fromRoot(ctx: StepContext, from: string, what: string): Promise<string> {
  try {
    return await ctx.fromRoot(from);
  } catch (e) {
    if (e instanceof InstructionError) throw e;
    const pulled = ["RegistryError", "ReferenceError"].includes((e as Error).name);
    const why = pulled ? "names no stage of this Dockerfile, and as an image" : "";
    throw new InstructionError(`${what}: --from=${from} ${why}: ${(e as Error).message}`.replace(" :", ":"), { cause: e });
  }
}

function clean(rel: string): string {
  return posix.normalize("/" + rel).slice(1).replace(/\/$/, "");
}

export async function executeCopy(instr: CopyInstruction | AddInstruction, state: StageState, ctx: StepContext): Promise<StepResult> {
  const what = `${instr.kind} (line ${instr.line})`;
  const owner = await copyOwner(ctx.rootDir, instr.chown);
  const mode = copyMode(instr.chmod, what);
  const dest = copyDest(state, instr.dest);
  const parents = instr.kind === "COPY" && instr.parents;
  if (parents && !dest.endsWith("/")) throw new InstructionError(`${what}: with --parents the destination must be a directory and end with a "/"`);

  const from = instr.kind === "COPY" ? instr.from : undefined;
  const srcRoot = from !== undefined ? await fromRoot(ctx, from, what) : ctx.buildContext.dir;
  const ignore = from !== undefined ? undefined : ctx.buildContext.ignore;
  const filter = new SourceFilter(ignore, instr.exclude);
  // (source, the part of its path kept below the destination with --parents)
  const sources: { src: ResolvedSource; keep: string }[] = [];
  for (const s of instr.sources) {
    const pivot = s.indexOf("/./");
    const prefix = pivot >= 0 ? clean(s.slice(0, pivot)) : "";
    let found: ResolvedSource[];
    try {
      found = resolveSource(srcRoot, s, ignore, what);
    } catch (e) {
      if ((e as Error).name === "ContextError" && from !== undefined) throw new InstructionError(`${what}: "${s}" not found in ${from}`);
      throw e;
    }
    if (found.length === 0) throw new InstructionError(`${what}: no source files were specified: "${s}" matched nothing in ${from ?? "the build context"}`);
    for (const f of found) {
      if (!filter.keepSource(f)) continue;
      const rel = prefix && f.rel.startsWith(prefix + "/") ? f.rel.slice(prefix.length + 1) : f.rel;
      sources.push({ src: f, keep: parents ? rel : "" });
    }
  }

  const include: CopyOptions["include"] = (src, sub, isDir) => filter.keepEntry(src, sub, isDir);

  let heredocDir: string | undefined;
  try {
    if (instr.heredocSources.length) {
      heredocDir = mkdtempSync(join(ctx.tmpDir, "heredoc-"));
      for (const h of instr.heredocSources) {
        const p = join(heredocDir, h.name);
        writeFileSync(p, h.content);
        chmodSync(p, 0o644);
        sources.push({ src: { abs: p, rel: h.name, isDir: false }, keep: "" });
      }
    }
    if (sources.length === 0) throw new InstructionError(`${what}: no source files were specified (everything matched was excluded)`);
    const opts: CopyOptions = { owner, keepOwner: from !== undefined && !instr.chown, ...(mode ? { mode } : {}), include, what };
    const written: string[] = [];
    try {
      if (!parents) written.push(...copyInto(ctx.rootDir, sources.map((s) => s.src), dest, opts));
      else {
        for (const { src, keep } of sources) {
          // A directory lands at dest/<its path>; a file in dest/<its parent's path>/.
          const sub = src.isDir ? keep : posix.dirname(keep);
          const d = sub === "." || sub === "" ? dest : `${dest}${sub}/`;
          written.push(...copyInto(ctx.rootDir, [src], d, opts));
        }
      }
    } catch (e) {
      if (e instanceof CopyError) throw new InstructionError(e.message);
      throw e;
    }
    return { state, changes: { kind: "paths", paths: written }, createdBy: copyCreatedBy(instr) };
  } finally {
    if (heredocDir) rmSync(heredocDir, { recursive: true, force: true });
  }
}
