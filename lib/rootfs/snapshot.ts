// Snapshots: diff the tree against the index and stream what changed into a layer.
// Kaniko's rules: changed entries plus all their parent directories, one whiteout per deleted
// top-most path, sorted names, hardlinks inside the layer as link entries.
import { createReadStream } from "node:fs";
import type { TarEntry, TarHeader } from "../layer/mod.ts";
import type { ContentHasher } from "./content-hash.ts";
import {
  type FileIndex, type SnapshotMode, type StatRecord, devMajor, devMinor, isDir, mtimeMs, sameContentMeta, statChanged, statPath,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
} from "./index.ts";
import { SmallFileReader, type SmallFile } from "./read-at.ts";
import { getXattrs } from "./xattr.ts";

const NO_XATTRS: Record<string, Uint8Array> = Object.freeze({}) as Record<string, Uint8Array>;
import { ancestors, baseOf, hostPath, joinRoot, parentOf, underAny } from "./paths.ts";

export type PlanItem =
  | { kind: "entry"; path: string; rec: StatRecord }
  | { kind: "whiteout"; path: string };

export interface SnapshotPlan {
  /** Sorted by tar name. */
  items: PlanItem[];
  /** The index after this snapshot. */
  next: FileIndex;
  timings: { walkMs: number; diffMs: number; walked: number };
}

function tarName(item: PlanItem): string {
  return item.kind === "entry" ? item.path : joinRoot(parentOf(item.path), ".wh." + baseOf(item.path));
}

// Plain code-unit order: deterministic across locales, and a parent sorts before its children.
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface PlanOptions {
  mode: SnapshotMode;
  hasher: ContentHasher;
  /** Records `scope` and everything beneath it (minus ignored paths) into `into`. */
  walk: (scope: string, into: FileIndex) => Promise<void>;
}

// `full` mode: a stat change with equal mode, owner, mtime and size is a change only if the
// content (or an xattr) differs, which the hash recorded when the file last streamed past tells.
async function settle(root: string, p: string, old: StatRecord, rec: StatRecord, hasher: ContentHasher): Promise<boolean> {
  if (!sameContentMeta(old, rec)) return true;
  if ((rec.mode & S_IFMT) !== S_IFREG) return false;
  if (old.hash === undefined) return true;
  const host = hostPath(root, p);
  let now: string;
  try {
    now = await hasher.file(host, getXattrs(host));
  } catch {
    return true; // vanished or unreadable: let the writer decide
  }
  if (now !== old.hash) return true;
  rec.hash = old.hash;
  return false;
}

/**
 * A changed regular file with other names (a RUN's `ln /bin/busybox /bb`) takes its unchanged partners into the
 * layer, so the layer holds the pair: the first name as the file, the others as hardlinks to it. BuildKit's layer
 * does the same (linking a lower file copies it up), where leaving the partner out would make the new name a
 * separate copy of the bytes.
 */
function addLinkPartners(current: FileIndex, changed: string[]): void {
  const linked = new Set<string>();
  for (const p of changed) {
    const rec = current.get(p)!;
    if (rec.nlink > 1 && (rec.mode & S_IFMT) === S_IFREG) linked.add(`${rec.dev}:${rec.ino}`);
  }
  if (linked.size === 0) return;
  const have = new Set(changed);
  for (const [p, rec] of current) {
    if (rec.nlink > 1 && !have.has(p) && (rec.mode & S_IFMT) === S_IFREG && linked.has(`${rec.dev}:${rec.ino}`)) changed.push(p);
  }
}

/** Works out what changed under `scopes` (root paths; ["/"] for the whole tree) since `baseline`. */
export async function planSnapshot(
  root: string, baseline: FileIndex, ignored: (p: string) => boolean, scopes: readonly string[], opts: PlanOptions,
): Promise<SnapshotPlan> {
  const t0 = performance.now();
  const current: FileIndex = new Map();
  for (const s of scopes) await opts.walk(s, current);
  const t1 = performance.now();
  const fresh = (p: string) => current.get(p) ?? statPath(root, p);

  const changed: string[] = [];
  for (const [p, rec] of current) {
    const old = baseline.get(p);
    if (!old) changed.push(p);
    else if (!statChanged(opts.mode, old, rec)) rec.hash = old.hash;
    else if (opts.mode !== "full" || (await settle(root, p, old, rec, opts.hasher))) changed.push(p);
  }
  addLinkPartners(current, changed);
  const deleted: string[] = [];
  for (const p of baseline.keys()) {
    // Paths ignored since the baseline (a VOLUME declared meanwhile) are not deletions.
    if (!current.has(p) && underAny(p, scopes) && !ignored(p)) deleted.push(p);
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

  // A whole-tree scan saw everything there is: its records are the next index as they stand.
  const whole = scopes.includes("/");
  const next: FileIndex = whole ? current : new Map(baseline);
  if (!whole) {
    for (const p of deleted) next.delete(p);
    for (const [p, rec] of current) next.set(p, rec);
  }
  for (const [p, rec] of entries) next.set(p, rec);

  const items: PlanItem[] = [
    ...[...entries].map(([path, rec]) => ({ kind: "entry" as const, path, rec })),
    ...whiteouts.map((path) => ({ kind: "whiteout" as const, path })),
  ];
  items.sort((a, b) => byName(tarName(a), tarName(b)));
  return { items, next, timings: { walkMs: t1 - t0, diffMs: performance.now() - t1, walked: current.size } };
}

async function* fileBody(host: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(host, { highWaterMark: 1 << 20 })) yield chunk as Uint8Array;
}

export interface EntryOptions {
  /** Seconds since the epoch; later mtimes are clamped to it, whiteouts get it. */
  sourceDateEpoch?: number;
  /** Called for paths that cannot go into a tar (sockets). */
  skipped?: (path: string) => void;
  hasher: ContentHasher;
  /** Filled with root path -> content hash of each regular file written. */
  hashes: Map<string, string>;
}

// Below this size a file is read in one call: a stream per file costs more than the bytes do when
// a step writes 100,000 small files.
const SMALL_FILE = 1 << 20;

function smallBody(file: SmallFile, hasher: ContentHasher, xattrs: Record<string, Uint8Array>, done: (h: string) => void): Uint8Array {
  hasher.begin();
  hasher.update(file.bytes);
  done(hasher.end(xattrs));
  return file.bytes;
}

async function* hashedBody(host: string, hasher: ContentHasher, xattrs: Record<string, Uint8Array>, done: (h: string) => void): AsyncGenerator<Uint8Array> {
  hasher.begin();
  for await (const chunk of fileBody(host)) {
    hasher.update(chunk);
    yield chunk;
  }
  done(hasher.end(xattrs));
}

/** The plan as tar entries; file bodies are opened only when the writer reaches them. */
export async function* planEntries(root: string, items: readonly PlanItem[], opts: EntryOptions): AsyncGenerator<TarEntry> {
  const clampMs = opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : undefined;
  const firstName = new Map<string, string>(); // dev:ino -> first path written, for hardlinks
  const reader = new SmallFileReader();
  try {
    for (const item of items) {
      if (item.kind === "whiteout") {
        yield {
          header: { name: tarName(item), type: "file", mode: 0, uid: 0, gid: 0, mtime: new Date(clampMs ?? 0) },
          body: new Uint8Array(0),
        };
        continue;
      }
      const { path, rec } = item;
      const ms = mtimeMs(rec);
      const host = hostPath(root, path);
      // A small file not linked to an earlier entry is read first: its descriptor tells whether
      // there are attributes, which spares a getXattrs path lookup per file.
      const small = (rec.mode & S_IFMT) === S_IFREG && rec.size < SMALL_FILE && (rec.nlink === 1 || !firstName.has(`${rec.dev}:${rec.ino}`))
        ? reader.read(hostPath(root, parentOf(path)), baseOf(path), rec.size)
        : undefined;
      const xattrs = small && !small.hasXattrs ? NO_XATTRS : getXattrs(host);
      const base = {
        name: path, mode: rec.mode & 0o7777, uid: rec.uid, gid: rec.gid, mtime: new Date(clampMs !== undefined ? Math.min(ms, clampMs) : ms),
        ...(Object.keys(xattrs).length ? { xattrs } : {}),
      };
      let header: TarHeader;
      let body: TarEntry["body"];
      switch (rec.mode & S_IFMT) {
        case S_IFDIR:
          header = { ...base, type: "directory" };
          break;
        case S_IFREG: {
          const key = rec.nlink > 1 ? `${rec.dev}:${rec.ino}` : "";
          const first = rec.nlink > 1 ? firstName.get(key) : undefined;
          if (first !== undefined) {
            header = { ...base, type: "link", linkname: first };
            const h = opts.hashes.get(first);
            if (h !== undefined) opts.hashes.set(path, h);
            break;
          }
          if (rec.nlink > 1) firstName.set(key, path);
          header = { ...base, type: "file", size: rec.size };
          const record = (h: string) => opts.hashes.set(path, h);
          body = small ? smallBody(small, opts.hasher, xattrs, record) : hashedBody(host, opts.hasher, xattrs, record);
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
  } finally {
    reader.close();
  }
}
