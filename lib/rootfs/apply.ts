// Applies one layer's entries to a build root, following the OCI image spec's changeset rules
// (whiteouts, opaque directories, replacement of differing types) and never writing outside the root.
import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeSync, type Stats,
} from "node:fs";
import type { Logger } from "../log/mod.ts";
import type { ReadEntry, ReadHeader } from "../layer/mod.ts";
import type { ContentHasher } from "./content-hash.ts";
import { LayerApplyError } from "./errors.ts";
import { mknod } from "./mknod.ts";
import { setXattr } from "./xattr.ts";
import { ancestors, baseOf, hostPath, joinRoot, layerPath, parentOf, resolveInRoot, RootPathError, underAny } from "./paths.ts";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

export interface ApplyOptions {
  logger: Logger;
  /** Root paths whose entries are skipped (and never deleted). */
  ignorePaths: readonly string[];
  /** Filled with root path -> content hash of every regular file written (and hardlinked). */
  hashes: Map<string, string>;
  hasher: ContentHasher;
  /** Filled with every root path this layer created, replaced or removed (for incremental re-indexing). */
  touched: Set<string>;
}

function lstatOrUndefined(host: string): Stats | undefined {
  // No exception for a missing path: most entries of a base layer are new, and a throw costs more than the syscall.
  return lstatSync(host, { throwIfNoEntry: false });
}

// Mode, owner, xattrs and times; chmod comes after chown because chown clears setuid/setgid,
// and xattrs after both because chown also drops security.capability.
function setMetadata(host: string, h: ReadHeader, xattrFailed?: (name: string, err: Error) => void): void {
  lchownSync(host, h.uid, h.gid);
  if (h.type !== "symlink") chmodSync(host, h.mode);
  for (const [name, value] of Object.entries(h.xattrs ?? {})) {
    try {
      setXattr(host, name, value);
    } catch (err) {
      xattrFailed?.(name, err as Error);
    }
  }
  const [atime, mtime] = times(h);
  lutimesSync(host, atime, mtime);
}

function times(h: ReadHeader): [number, number] {
  const mtime = h.mtime.getTime() / 1000;
  return [h.pax?.atime !== undefined && !Number.isNaN(Number(h.pax.atime)) ? Number(h.pax.atime) : mtime, mtime];
}

const CREATE = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW;

/** Creates a new regular file, or undefined when something is at `host` already. */
function createFile(host: string): number | undefined {
  try {
    // O_EXCL|O_NOFOLLOW: never write through whatever is there (a symlink planted by an earlier entry).
    return openSync(host, CREATE, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw err;
  }
}

// Writes the body and sets the metadata through the open descriptor: fewer path lookups than by name,
// in the same order as setMetadata (owner, mode, xattrs, times).
async function writeFile(fd: number, host: string, h: ReadHeader, body: AsyncIterable<Uint8Array>, hasher: ContentHasher, xattrFailed: (name: string, err: Error) => void): Promise<void> {
  hasher.begin();
  try {
    for await (const chunk of body) {
      hasher.update(chunk);
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
    }
    fchownSync(fd, h.uid, h.gid);
    fchmodSync(fd, h.mode);
    for (const [name, value] of Object.entries(h.xattrs ?? {})) {
      try {
        setXattr(host, name, value);
      } catch (err) {
        xattrFailed(name, err as Error);
      }
    }
    const [atime, mtime] = times(h);
    futimesSync(fd, atime, mtime);
  } finally {
    closeSync(fd);
  }
}

class LayerApplier {
  // Root paths this layer created: whiteouts and opaque markers only remove lower-layer content.
  #created = new Set<string>();
  // Their ancestors: an opaque marker that comes after entries beneath it must keep those.
  #holds = new Set<string>();
  // Directory metadata is set last, deepest first, so creating children does not disturb mtimes.
  #dirs: { host: string; header: ReadHeader }[] = [];
  // Parent paths (as named in the layer) already resolved and created during this layer -> their
  // resolution. Valid until something that could sit on such a path (a directory or symlink) is
  // removed or replaced; then it is cleared, so a symlink planted by a later entry is always seen.
  #parents = new Map<string, string>();
  #warnedXattr = false;
  #warnedNode = false;
  readonly #xattrFailed = (name: string, err: Error) => {
    if (this.#warnedXattr) return;
    this.#warnedXattr = true;
    this.opts.logger.warn("cannot set an extended attribute from the layer; further failures are not reported", { name, error: err.message });
  };

  #nodeFailed(path: string, err: Error): void {
    if (this.#warnedNode) return this.opts.logger.debug("cannot create device node, skipping it", { path, error: err.message });
    this.#warnedNode = true;
    this.opts.logger.warn("cannot create device node, skipping it; further failures are not reported", { path, error: err.message });
  }

  constructor(private readonly root: string, private readonly opts: ApplyOptions) {}

  async entry(e: ReadEntry): Promise<void> {
    const h = e.header;
    let p: string;
    let parent: string | undefined;
    try {
      p = layerPath(h.name);
      if (p === "/") return; // the root's own entry: its owner and mode are the host's business
      parent = this.#parents.get(parentOf(p));
      if (parent === undefined) parent = resolveInRoot(this.root, parentOf(p), true);
    } catch (err) {
      if (err instanceof RootPathError) throw new LayerApplyError(h.name, err.message, err);
      throw err;
    }
    const name = baseOf(p);
    const target = joinRoot(parent, name);
    if (underAny(target, this.opts.ignorePaths)) {
      this.opts.logger.debug("skipping ignored layer entry", { path: target });
      return;
    }
    if (name === OPAQUE) return this.#opaque(parent);
    if (name.startsWith(WHITEOUT)) return this.#whiteout(joinRoot(parent, name.slice(WHITEOUT.length)));
    if (!this.#parents.has(parentOf(p))) {
      this.#mkdirs(h.name, parent);
      this.#parents.set(parentOf(p), parent);
    }
    const host = hostPath(this.root, target);
    this.opts.touched.add(target);
    this.opts.hashes.delete(target);
    try {
      // A new file is created straight away; only when the name is taken is the old entry looked at.
      let fd = h.type === "file" ? createFile(host) : undefined;
      if (fd === undefined) {
        const existing = lstatOrUndefined(host);
        if (existing && !(h.type === "directory" && existing.isDirectory())) {
          if (existing.isDirectory() || existing.isSymbolicLink()) this.#parents.clear();
          try {
            rmSync(host, { recursive: true, force: true });
          } catch (err) {
            // A mount point the ignore list did not name (kaniko skips mounts): the container's, not the layer's.
            if ((err as NodeJS.ErrnoException).code !== "EBUSY") throw err;
            this.opts.logger.debug("skipping layer entry over a mount point", { path: target });
            return;
          }
        }
        if (h.type === "file") fd = openSync(host, CREATE, 0o600);
      }
      if (await this.#create(h, e.body, host, target, fd)) {
        this.#created.add(target);
        for (const a of ancestors(target)) this.#holds.add(a);
      }
    } catch (err) {
      if (err instanceof LayerApplyError) throw err;
      throw new LayerApplyError(h.name, (err as Error).message, err);
    }
  }

  /** Sets the deferred directory metadata (skipping dirs a later entry replaced). */
  finish(): void {
    for (const d of this.#dirs.reverse()) {
      if (lstatOrUndefined(d.host)?.isDirectory()) setMetadata(d.host, d.header, this.#xattrFailed);
    }
  }

  async #create(h: ReadHeader, body: AsyncIterable<Uint8Array>, host: string, target: string, fd: number | undefined): Promise<boolean> {
    switch (h.type) {
      case "directory":
        if (!lstatOrUndefined(host)) mkdirSync(host, { mode: 0o700 });
        this.#dirs.push({ host, header: h });
        return true;
      case "file":
        await writeFile(fd!, host, h, body, this.opts.hasher, this.#xattrFailed);
        this.opts.hashes.set(target, this.opts.hasher.end(h.xattrs));
        return true;
      case "symlink":
        symlinkSync(h.linkname ?? "", host);
        break;
      case "link": {
        const src = this.#linkSource(h);
        linkSync(hostPath(this.root, src), host);
        this.opts.touched.add(src); // its link count and ctime changed
        const hash = this.opts.hashes.get(src);
        if (hash !== undefined) this.opts.hashes.set(target, hash);
        return true; // shares the target's inode: its metadata is the target's
      }
      case "character-device":
      case "block-device":
      case "fifo":
        try {
          mknod(host, h.type, h.devmajor ?? 0, h.devminor ?? 0);
        } catch (err) {
          // Without CAP_MKNOD (an unprivileged container) every node fails alike: say so once per layer.
          this.#nodeFailed(target, err as Error);
          return false;
        }
        break;
      case "other":
        this.opts.logger.warn("skipping layer entry of unsupported type", { path: target });
        return false;
    }
    setMetadata(host, h, this.#xattrFailed);
    return true;
  }

  // A hardlink's target is a layer path too, resolved in the root and required to exist.
  #linkSource(h: ReadHeader): string {
    if (!h.linkname) throw new LayerApplyError(h.name, "hardlink without a target");
    let src: string;
    try {
      const lp = layerPath(h.linkname);
      src = joinRoot(resolveInRoot(this.root, parentOf(lp), true), baseOf(lp));
    } catch (err) {
      throw new LayerApplyError(h.name, `hardlink target "${h.linkname}": ${(err as Error).message}`, err);
    }
    const st = lstatOrUndefined(hostPath(this.root, src));
    if (!st) throw new LayerApplyError(h.name, `hardlink target "${h.linkname}" does not exist in this or an earlier layer`);
    if (st.isDirectory()) throw new LayerApplyError(h.name, `hardlink target "${h.linkname}" is a directory`);
    return src;
  }

  // Creates missing parents (as tar does, mode 0755); parents were resolved, so none is a symlink.
  #mkdirs(entry: string, parent: string): void {
    let cur = "/";
    for (const seg of parent.split("/").filter(Boolean)) {
      cur = joinRoot(cur, seg);
      const host = hostPath(this.root, cur);
      const st = lstatOrUndefined(host);
      if (!st) mkdirSync(host, { mode: 0o755 });
      else if (!st.isDirectory()) throw new LayerApplyError(entry, `parent "${cur}" exists and is not a directory`);
    }
  }

  #whiteout(target: string): void {
    if (this.#created.has(target) || underAny(target, this.opts.ignorePaths)) return;
    this.#parents.clear();
    this.opts.touched.add(target);
    rmSync(hostPath(this.root, target), { recursive: true, force: true });
  }

  #opaque(dir: string): void {
    const host = hostPath(this.root, dir);
    const st = lstatOrUndefined(host);
    if (!st?.isDirectory()) return;
    this.#parents.clear();
    for (const child of readdirSync(host)) {
      const p = joinRoot(dir, child);
      if (this.#created.has(p) || underAny(p, this.opts.ignorePaths)) continue;
      if (this.#holds.has(p)) {
        this.#opaque(p); // a lower dir holding this layer's entries: keep it, empty the rest
        continue;
      }
      this.opts.touched.add(p);
      rmSync(hostPath(this.root, p), { recursive: true, force: true });
    }
  }
}

/** Applies entries (from readLayer) to the tree at `root` (a host directory). */
export async function applyEntries(root: string, entries: AsyncIterable<ReadEntry>, opts: ApplyOptions): Promise<void> {
  const a = new LayerApplier(root, opts);
  for await (const e of entries) await a.entry(e);
  a.finish();
}
