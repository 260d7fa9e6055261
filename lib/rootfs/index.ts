// The file index: root path -> stat record. Comparing records finds what a step changed, since
// ctime cannot be set from user space: an unchanged record means an unchanged file.
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import { hostPath, joinRoot } from "./paths.ts";

export interface StatRecord {
  dev: bigint;
  ino: bigint;
  /** Full st_mode: type bits and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  nlink: number;
  rdev: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
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

function toRecord(st: BigIntStats, host: string): StatRecord {
  const mode = Number(st.mode);
  // Every record has the same fields (link and hash undefined where absent): one object shape keeps
  // the 100,000-record comparisons fast.
  return {
    dev: st.dev, ino: st.ino, mode, uid: Number(st.uid), gid: Number(st.gid), size: st.size,
    nlink: Number(st.nlink), rdev: st.rdev, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
    link: (mode & S_IFMT) === S_IFLNK ? readlinkSync(host) : undefined, hash: undefined,
  };
}

/** The record of one path, or undefined when it does not exist. */
export function statPath(root: string, p: string): StatRecord | undefined {
  const host = hostPath(root, p);
  let st: BigIntStats;
  try {
    st = lstatSync(host, { bigint: true });
  } catch {
    return undefined;
  }
  return toRecord(st, host);
}

export function sameRecord(a: StatRecord, b: StatRecord): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid &&
    a.size === b.size && a.rdev === b.rdev && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.link === b.link;
}

export type SnapshotMode = "full" | "redo" | "time";

/**
 * What a step may have changed, by --snapshot-mode (kaniko's meanings): `time` looks at mtime only,
 * `redo` at mode, size, owner and mtime, `full` at the whole stat record (ctime included), then
 * settles candidates by content (see sameContentMeta).
 */
export function statChanged(mode: SnapshotMode, a: StatRecord, b: StatRecord): boolean {
  if (mode === "time") return a.mtimeNs !== b.mtimeNs;
  if (mode === "redo") return a.mode !== b.mode || a.size !== b.size || a.uid !== b.uid || a.gid !== b.gid || a.mtimeNs !== b.mtimeNs;
  return !sameRecord(a, b);
}

/**
 * For `full` mode: true when everything kaniko's hasher looks at, except content, is equal.
 * Non-files are then unchanged; regular files are unchanged when their content hash is too.
 */
export function sameContentMeta(a: StatRecord, b: StatRecord): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeNs === b.mtimeNs && a.size === b.size &&
    a.rdev === b.rdev && a.link === b.link;
}

export function isDir(r: StatRecord | undefined): boolean {
  return r !== undefined && (r.mode & S_IFMT) === S_IFDIR;
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
    let names;
    try {
      names = readdirSync(hostPath(root, dir), { withFileTypes: true });
    } catch {
      continue; // vanished while walking
    }
    for (const d of names) {
      const p = joinRoot(dir, d.name);
      if (ignored(p)) continue;
      const host = hostPath(root, p);
      let st: BigIntStats;
      try {
        st = lstatSync(host, { bigint: true });
      } catch {
        continue;
      }
      into.set(p, toRecord(st, host));
      if (d.isDirectory()) stack.push(p);
    }
  }
}

export function indexTree(root: string, ignored: (p: string) => boolean): FileIndex {
  const idx: FileIndex = new Map();
  walkInto(root, "/", ignored, idx);
  return idx;
}
