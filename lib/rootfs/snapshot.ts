// Snapshots: diff the tree against the index and stream what changed into a layer.
// Kaniko's rules: changed entries plus all their parent directories, one whiteout per deleted
// top-most path, sorted names, hardlinks inside the layer as link entries.
import { createReadStream } from "node:fs";
import type { TarEntry, TarHeader } from "../layer/mod.ts";
import {
  type FileIndex, type StatRecord, isDir, sameRecord, statPath, walkInto,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
} from "./index.ts";
import { ancestors, baseOf, hostPath, joinRoot, parentOf, underAny } from "./paths.ts";

export type PlanItem =
  | { kind: "entry"; path: string; rec: StatRecord }
  | { kind: "whiteout"; path: string };

export interface SnapshotPlan {
  /** Sorted by tar name. */
  items: PlanItem[];
  /** The index after this snapshot. */
  next: FileIndex;
}

function tarName(item: PlanItem): string {
  return item.kind === "entry" ? item.path : joinRoot(parentOf(item.path), ".wh." + baseOf(item.path));
}

// Plain code-unit order: deterministic across locales, and a parent sorts before its children.
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Works out what changed under `scopes` (root paths; ["/"] for the whole tree) since `baseline`. */
export function planSnapshot(root: string, baseline: FileIndex, ignore: readonly string[], scopes: readonly string[]): SnapshotPlan {
  const current: FileIndex = new Map();
  for (const s of scopes) walkInto(root, s, ignore, current);
  const fresh = (p: string) => current.get(p) ?? statPath(root, p);

  const changed: string[] = [];
  for (const [p, rec] of current) {
    const old = baseline.get(p);
    if (!old || !sameRecord(old, rec)) changed.push(p);
  }
  const deleted: string[] = [];
  for (const p of baseline.keys()) {
    if (!current.has(p) && underAny(p, scopes)) deleted.push(p);
  }
  // A deleted path needs its own whiteout only when its parent is still a directory; otherwise
  // the parent's whiteout (or the non-directory replacing it) already hides it.
  const whiteouts = deleted.filter((p) => {
    const parent = parentOf(p);
    return parent === "/" || isDir(fresh(parent));
  });

  const entries = new Map<string, StatRecord>();
  for (const p of changed) entries.set(p, current.get(p)!);
  for (const p of [...changed, ...whiteouts]) {
    for (const a of ancestors(p)) {
      if (entries.has(a)) continue;
      const rec = fresh(a);
      if (rec) entries.set(a, rec);
    }
  }

  const next: FileIndex = new Map(baseline);
  for (const p of deleted) next.delete(p);
  for (const [p, rec] of entries) next.set(p, rec);
  for (const [p, rec] of current) next.set(p, rec);

  const items: PlanItem[] = [
    ...[...entries].map(([path, rec]) => ({ kind: "entry" as const, path, rec })),
    ...whiteouts.map((path) => ({ kind: "whiteout" as const, path })),
  ];
  items.sort((a, b) => byName(tarName(a), tarName(b)));
  return { items, next };
}

async function* fileBody(host: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(host, { highWaterMark: 1 << 20 })) yield chunk as Uint8Array;
}

// Linux's encoding of dev_t (glibc's gnu_dev_major/minor).
function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

export interface EntryOptions {
  /** Seconds since the epoch; later mtimes are clamped to it, whiteouts get it. */
  sourceDateEpoch?: number;
  /** Called for paths that cannot go into a tar (sockets). */
  skipped?: (path: string) => void;
}

/** The plan as tar entries; file bodies are opened only when the writer reaches them. */
export async function* planEntries(root: string, items: readonly PlanItem[], opts: EntryOptions): AsyncGenerator<TarEntry> {
  const clampMs = opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : undefined;
  const firstName = new Map<string, string>(); // dev:ino -> first path written, for hardlinks
  for (const item of items) {
    if (item.kind === "whiteout") {
      yield {
        header: { name: tarName(item), type: "file", mode: 0, uid: 0, gid: 0, mtime: new Date(clampMs ?? 0) },
        body: new Uint8Array(0),
      };
      continue;
    }
    const { path, rec } = item;
    const ms = Number(rec.mtimeNs / 1_000_000n);
    const base = { name: path, mode: rec.mode & 0o7777, uid: rec.uid, gid: rec.gid, mtime: new Date(clampMs !== undefined ? Math.min(ms, clampMs) : ms) };
    let header: TarHeader;
    let body: TarEntry["body"];
    switch (rec.mode & S_IFMT) {
      case S_IFDIR:
        header = { ...base, type: "directory" };
        break;
      case S_IFREG: {
        const key = `${rec.dev}:${rec.ino}`;
        const first = rec.nlink > 1 ? firstName.get(key) : undefined;
        if (first !== undefined) {
          header = { ...base, type: "link", linkname: first };
          break;
        }
        if (rec.nlink > 1) firstName.set(key, path);
        header = { ...base, type: "file", size: Number(rec.size) };
        body = fileBody(hostPath(root, path));
        break;
      }
      case S_IFLNK:
        header = { ...base, type: "symlink", linkname: rec.link ?? "" };
        break;
      case S_IFCHR:
      case S_IFBLK:
        header = { ...base, type: (rec.mode & S_IFMT) === S_IFCHR ? "character-device" : "block-device", devmajor: devMajor(rec.rdev), devminor: devMinor(rec.rdev) };
        break;
      case S_IFIFO:
        header = { ...base, type: "fifo" };
        break;
      default:
        opts.skipped?.(path);
        continue;
    }
    yield body === undefined ? { header } : { header, body };
  }
}
