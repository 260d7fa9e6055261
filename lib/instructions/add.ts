// ADD: COPY plus three kinds of source. A local tar archive (sniffed by content) is unpacked into the
// destination; an http(s) URL is downloaded (mode 0600, mtime from Last-Modified, --checksum verified, never
// unpacked); a git URL is cloned (without .git unless --keep-git-dir). Everything else is COPY's job.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync } from "node:fs";
import { basename, join } from "node:path";
import type { AddInstruction } from "../dockerfile/mod.ts";
import { fetchGit, isGitUrl, resolveSource } from "../context/mod.ts";
import { ArchiveError, archiveCodec, extractArchive, resolveHostPath, type ArchiveCodec } from "../rootfs/mod.ts";
import { DownloadError, downloadTo } from "./download.ts";
import type { StepContext } from "./context.ts";
import { copyDest, copyMode, copyOwner, executeCopy } from "./copy.ts";
import { copyInto, CopyError, makeDestDir, type CopyOptions } from "./copy-files.ts";
import { InstructionError } from "./metadata.ts";
import type { StageState, StepResult } from "./state.ts";
import { copyCreatedBy } from "./history.ts";

const URL_RE = /^https?:\/\//i;

/** `sha256:<64 hex>` as --checksum takes it (BuildKit accepts only sha256 for http sources too). */
function parseChecksum(v: string | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  const m = /^sha256:([0-9a-f]{64})$/i.exec(v);
  if (!m) throw new InstructionError(`${what}: --checksum=${v}: expected sha256:<64 hex digits>`);
  return m[1].toLowerCase();
}

/** The file name a URL gives when the destination is a directory: the last path element (BuildKit's rule). */
function urlFileName(url: string): string {
  const path = new URL(url).pathname;
  const name = decodeURIComponent(path.split("/").filter(Boolean).pop() ?? "");
  return name || "index.html";
}

async function download(url: string, dir: string, checksum: string | undefined, what: string): Promise<{ file: string; mtime?: Date }> {
  const file = join(dir, "download");
  let got;
  try {
    got = await downloadTo(url, file);
  } catch (e) {
    if (e instanceof DownloadError) throw new InstructionError(`${what}: ${e.message}`);
    throw e;
  }
  if (checksum && got.sha256 !== checksum) {
    throw new InstructionError(`${what}: ${url}: checksum mismatch: expected sha256:${checksum}, got sha256:${got.sha256}`);
  }
  return { file, ...(got.mtime ? { mtime: got.mtime } : {}) };
}

export async function executeAdd(instr: AddInstruction, state: StageState, ctx: StepContext): Promise<StepResult> {
  const what = `ADD (line ${instr.line})`;
  const special = instr.sources.some((s) => URL_RE.test(s) || isGitUrl(s));
  const checksum = parseChecksum(instr.checksum, what);
  if (checksum && (instr.sources.length !== 1 || !URL_RE.test(instr.sources[0]) || isGitUrl(instr.sources[0]))) {
    throw new InstructionError(`${what}: --checksum needs exactly one http(s) source`);
  }
  const owner = await copyOwner(ctx.rootDir, instr.chown);
  const mode = copyMode(instr.chmod, what);
  const dest = copyDest(state, instr.dest);
  const opts: CopyOptions = { owner, ...(mode ? { mode } : {}), what };
  const destIsDir = dest.endsWith("/") || isDir(resolveHostPath(ctx.rootDir, dest));
  if (instr.sources.length + instr.heredocSources.length > 1 && !destIsDir) {
    throw new InstructionError(`${what}: when adding more than one source the destination must be a directory and end with a "/"`);
  }

  // Local sources that are archives are unpacked; the rest (and heredocs) go through COPY unchanged.
  const archives: { abs: string; name: string; codec: ArchiveCodec }[] = [];
  const plain: string[] = [];
  for (const s of instr.sources) {
    if (URL_RE.test(s) || isGitUrl(s)) continue;
    const found = resolveSource(ctx.buildContext.dir, s, ctx.buildContext.ignore, what);
    for (const f of found) {
      const codec = instr.unpack !== false && !f.isDir ? await archiveCodec(f.abs) : undefined;
      if (codec) archives.push({ abs: f.abs, name: f.rel || s, codec });
      else plain.push(s);
    }
  }
  if (!special && archives.length === 0) return executeCopy(instr, state, ctx);

  const written: string[] = [];
  const tmp = mkdtempSync(join(ctx.tmpDir, "add-"));
  try {
    const localPlain = [...new Set(plain)];
    if (localPlain.length || instr.heredocSources.length) {
      const r = await executeCopy({ ...instr, sources: localPlain, dest: instr.dest }, state, ctx);
      if (r.changes.kind === "paths") written.push(...r.changes.paths);
    }
    for (const a of archives) {
      const dir = dest.endsWith("/") ? dest.slice(0, -1) || "/" : dest;
      written.push(...makeDestDir(ctx.rootDir, dir, opts));
      try {
        written.push(dir, ...await extractArchive(ctx.rootDir, a.abs, a.codec, dir, { logger: ctx.logger, ...(instr.chown ? { owner } : {}), ...(mode ? { mode } : {}) }));
      } catch (e) {
        if (e instanceof ArchiveError) throw new InstructionError(`${what}: unpacking ${a.name}: ${e.message}`);
        throw e;
      }
    }
    for (const [i, s] of instr.sources.entries()) {
      const work = join(tmp, String(i));
      if (isGitUrl(s)) {
        const from = await fetchGit(s, work, { keepGitDir: instr.keepGitDir, what });
        written.push(...copyInto(ctx.rootDir, [{ abs: from, rel: "", isDir: true }], dest.endsWith("/") ? dest : dest + "/", opts));
      } else if (URL_RE.test(s)) {
        mkdirSync(work, { recursive: true });
        const { file, mtime } = await download(s, work, checksum, what);
        chmodSync(file, 0o600);
        const named = join(work, destIsDir ? urlFileName(s) : basename(dest));
        renameSync(file, named);
        if (mtime) utimesSync(named, mtime, mtime);
        written.push(...copyInto(ctx.rootDir, [{ abs: named, rel: basename(named), isDir: false }], dest, opts));
      }
    }
  } catch (e) {
    if (e instanceof CopyError) throw new InstructionError(e.message);
    throw e;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { state, changes: { kind: "paths", paths: written }, createdBy: copyCreatedBy(instr) };
}

function isDir(p: string): boolean {
  try { return lstatSync(p).isDirectory(); } catch { return false; }
}
