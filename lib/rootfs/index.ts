// The file index: root path -> stat record. Comparing records finds what a step changed, since
// ctime cannot be set from user space: an unchanged record means an unchanged file.
import { readdirSync, readlinkSync } from "node:fs";
import { hostPath, joinRoot } from "./paths.ts";
import { closeDir, openDir, statAt, statHost, stx } from "./statx.ts";

// Numbers, not BigInts: a walk compares 100,000 of these, and building BigInts per file cost more
// than the lstat calls. Inode numbers and sizes stay exact below 2^53; device numbers are
// major * 2^32 + minor.
export interface StatRecord {
  dev: number;
  ino: number;
  /** Full st_mode: type bits and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  rdev: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** Symlink target. */
  link?: string | undefined;
  /** Regular files: xxhash128 of content and xattrs, when known (see content-hash.ts). */
  hash?: string | undefined;
}

export type FileIndex = Map<string, StatRecord>;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export const devMajor = (dev: number): number => Math.floor(dev / 2 ** 32);
export const devMinor = (dev: number): number => dev % 2 ** 32;

/** Milliseconds since the epoch of a record's mtime. */
export const mtimeMs = (r: StatRecord): number => r.mtimeSec * 1000 + Math.floor(r.mtimeNsec / 1_000_000);

// The record of the last stat call. Every record has the same fields (link and hash undefined
// where absent): one object shape keeps the comparisons fast.
function fromStat(host: string): StatRecord {
  const mode = stx.mode();
  return {
    dev: stx.dev(), ino: stx.ino(), mode, uid: stx.uid(), gid: stx.gid(), size: stx.size(), nlink: stx.nlink(),
    rdev: stx.rdev(), mtimeSec: stx.mtimeSec(), mtimeNsec: stx.mtimeNsec(), ctimeSec: stx.ctimeSec(), ctimeNsec: stx.ctimeNsec(),
    link: (mode & S_IFMT) === S_IFLNK ? readlinkSync(host) : undefined, hash: undefined,
  };
}

/** The record of one path, or undefined when it does not exist. */
export function statPath(root: string, p: string): StatRecord | undefined {
  const host = hostPath(root, p);
  return statHost(host) ? fromStat(host) : undefined;
}

export function sameRecord(a: StatRecord, b: StatRecord): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid &&
    a.size === b.size && a.nlink === b.nlink && a.rdev === b.rdev && a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec &&
    a.ctimeSec === b.ctimeSec && a.ctimeNsec === b.ctimeNsec && a.link === b.link;
}

export type SnapshotMode = "full" | "redo" | "time";

/**
 * What a step may have changed, by --snapshot-mode (kaniko's meanings): `time` looks at mtime only,
 * `redo` at mode, size, owner and mtime, `full` at the whole stat record (ctime included), then
 * settles candidates by content (see sameContentMeta).
 */
export function statChanged(mode: SnapshotMode, a: StatRecord, b: StatRecord): boolean {
  if (mode === "time") return a.mtimeSec !== b.mtimeSec || a.mtimeNsec !== b.mtimeNsec;
  if (mode === "redo") return a.mode !== b.mode || a.size !== b.size || a.uid !== b.uid || a.gid !== b.gid ||
    a.mtimeSec !== b.mtimeSec || a.mtimeNsec !== b.mtimeNsec;
  return !sameRecord(a, b);
}

/**
 * For `full` mode: true when everything kaniko's hasher looks at, except content, is equal.
 * Non-files are then unchanged; regular files are unchanged when their content hash is too.
 */
export function sameContentMeta(a: StatRecord, b: StatRecord): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec &&
    a.size === b.size &&
    a.rdev === b.rdev && a.link === b.link;
}

export function isDir(r: StatRecord | undefined): boolean {
  return r !== undefined && (r.mode & S_IFMT) === S_IFDIR;
}

/** A directory of a build root that could be listed could not be opened to stat its entries. */
export class RootWalkError extends Error {
  override name = "RootWalkError";
  constructor(dir: string) {
    super(`walking the build root: ${dir} can be listed but not opened; its files would be left out of the layer as deleted, so the step fails instead`);
  }
}

/**
 * Records `start` (unless it is "/") and everything beneath it into `into`, skipping ignored
 * paths at directory level. A missing start records nothing.
 */
export function walkInto(root: string, start: string, ignored: (p: string) => boolean, into: FileIndex): void {
  if (start !== "/" && ignored(start)) return;
  const first = statPath(root, start);
  if (!first) return;
  if (start !== "/") into.set(start, first);
  if (!isDir(first)) return;
  const stack = [start];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const hostDir = hostPath(root, dir);
    let names: string[];
    try {
      names = readdirSync(hostDir);
    } catch {
      continue; // vanished while walking
    }
    const fd = openDir(hostDir);
    if (fd < 0) {
      // Skipping a directory that is still there would record its files as deleted (whiteouts in
      // a layer that otherwise looks right, exit 0): fail the step instead.
      if (statHost(hostDir) && (stx.mode() & S_IFMT) === S_IFDIR) throw new RootWalkError(dir);
      continue; // vanished while walking
    }
    try {
      for (const name of names) {
        const p = joinRoot(dir, name);
        if (ignored(p) || !statAt(fd, name)) continue;
        // A fresh record even for an unchanged file: looking the old one up to reuse it cost more
        // than building this one (the diff looks it up anyway).
        const rec = fromStat(hostDir + "/" + name);
        into.set(p, rec);
        if ((rec.mode & S_IFMT) === S_IFDIR) stack.push(p);
      }
    } finally {
      closeDir(fd);
    }
  }
}

export function indexTree(root: string, ignored: (p: string) => boolean): FileIndex {
  const idx: FileIndex = new Map();
  walkInto(root, "/", ignored, idx);
  return idx;
}
