// Copying resolved sources into a build root with COPY's rules: a directory source copies its contents,
// several sources need a directory destination, owners default to root, modes and mtimes are kept.
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, lutimesSync, constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ResolvedSource } from "../context/mod.ts";
import type { ModeFn } from "./chmod.ts";
import { rootPath } from "./paths.ts";
import { getXattrs, resolveHostPath, setXattr } from "../rootfs/mod.ts";

export interface Ownership { uid: number; gid: number }

export interface CopyOptions {
  owner: Ownership;
  /** Keep each copied entry's own uid/gid (COPY --from without --chown, as BuildKit); implicit parents still get `owner`. */
  keepOwner?: boolean;
  /** --chmod applied to files and directories copied (not to the destination directories COPY creates). */
  mode?: ModeFn;
  /** Whether an entry below a directory source is copied (.dockerignore, --exclude); `sub` is relative to the source. */
  include?: (src: ResolvedSource, sub: string, isDir: boolean) => boolean;
  /** Instruction text for messages. */
  what: string;
}

export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CopyError";
  }
}

/** Copies sources to `dest` (an absolute in-root path; a trailing "/" marks a directory). Returns in-root paths written. */
export function copyInto(root: string, sources: ResolvedSource[], dest: string, opts: CopyOptions): string[] {
  const written: string[] = [];
  const destIsDirSyntax = dest.endsWith("/");
  const destHost = resolveHostPath(root, dest);
  const destExistsAsDir = isDir(destHost);
  if ((sources.length > 1) && !destIsDirSyntax && !destExistsAsDir) {
    throw new CopyError(`${opts.what}: when copying more than one source the destination must be a directory and end with a "/"`);
  }
  for (const src of sources) {
    if (src.isDir) {
      ensureDir(root, destHost, opts, written);
      copyTree(root, src, src.abs, "", destHost, opts, written);
    } else {
      // Named as the source was (a followed symlink's own name, not its target's).
      const target = destIsDirSyntax || destExistsAsDir ? join(destHost, basename(src.rel || src.abs)) : destHost;
      ensureDir(root, dirname(target), opts, written);
      copyEntry(root, src, src.abs, "", target, opts, written);
    }
  }
  return written;
}

function isDir(p: string): boolean {
  try { return lstatSync(p).isDirectory(); } catch { return false; }
}

/**
 * Creates missing directories up to `dir`, owned by the copy's owner, mode 0755: --chmod is not theirs, even for the
 * directory a directory source's contents land in (Docker 20.10's BuildKit makes them with MkdirAll(0755)).
 */
function ensureDir(root: string, dir: string, opts: CopyOptions, written: string[]): void {
  if (isDir(dir)) return;
  if (dir !== root) ensureDir(root, dirname(dir), opts, written);
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) rmSync(dir, { force: true });
  } catch { /* missing */ }
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  lchownSync(dir, opts.owner.uid, opts.owner.gid);
  written.push(rootPath(root, dir));
}

function copyTree(root: string, from: ResolvedSource, srcDir: string, sub: string, destDir: string, opts: CopyOptions, written: string[]): void {
  for (const name of readdirSync(srcDir).sort()) {
    copyEntry(root, from, join(srcDir, name), sub ? `${sub}/${name}` : name, join(destDir, name), opts, written);
  }
}

function copyEntry(root: string, from: ResolvedSource, src: string, sub: string, dest: string, opts: CopyOptions, written: string[]): void {
  const st = lstatSync(src);
  if (opts.include && !opts.include(from, sub, st.isDirectory())) return;
  const own = opts.keepOwner ? { uid: st.uid, gid: st.gid } : opts.owner;
  let existing;
  try { existing = lstatSync(dest); } catch { /* none */ }
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) rmSync(dest, { force: true });
    if (!existing || !existing.isDirectory()) mkdirSync(dest);
    copyTree(root, from, src, sub, dest, opts, written);
    chmodSync(dest, opts.mode ? opts.mode(st.mode & 0o7777, true) : st.mode & 0o7777);
    lchownSync(dest, own.uid, own.gid);
    utimesSync(dest, st.atime, st.mtime);
  } else if (st.isSymbolicLink()) {
    if (existing) rmSync(dest, { recursive: existing.isDirectory(), force: true });
    symlinkSync(readlinkSync(src), dest);
    lchownSync(dest, own.uid, own.gid);
    lutimesSync(dest, st.atime, st.mtime);
  } else if (st.isFile()) {
    if (existing?.isDirectory()) rmSync(dest, { recursive: true, force: true });
    else if (existing) rmSync(dest, { force: true });
    copyFileSync(src, dest, constants.COPYFILE_FICLONE);
    lchownSync(dest, own.uid, own.gid);
    chmodSync(dest, opts.mode ? opts.mode(st.mode & 0o7777, false) : st.mode & 0o7777);
    copyXattrs(src, dest);
    utimesSync(dest, st.atime, st.mtime);
  } else {
    return; // sockets, devices and FIFOs in a context are not copied, as with docker build
  }
  written.push(rootPath(root, dest));
}

/** Makes `dir` (absolute, in-root) and its missing parents as COPY would; returns the in-root paths created. */
export function makeDestDir(root: string, dir: string, opts: CopyOptions): string[] {
  const written: string[] = [];
  ensureDir(root, resolveHostPath(root, dir), opts, written);
  return written;
}

/** Extended attributes travel with the file (BuildKit's copy keeps them); set after chown, which drops capabilities. */
function copyXattrs(src: string, dest: string): void {
  for (const [name, value] of Object.entries(getXattrs(src))) setXattr(dest, name, value);
}
