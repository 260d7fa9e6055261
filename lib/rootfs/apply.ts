// Applies a tar's entries to a build root, never writing outside it, under one of two rule sets: an image layer's
// (the OCI image spec's changeset: whiteouts, opaque directories, device nodes, replacement of differing types) or
// an archive's that ADD unpacks (Docker's untar: entries and hardlink targets under the destination, --chown and
// --chmod over the archive's owners and modes, ".wh." names taken literally, devices and FIFOs skipped).
import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeSync, type Stats,
} from "node:fs";
import type { Logger } from "../log/mod.ts";
import type { ReadEntry, ReadHeader } from "../layer/mod.ts";
import type { ContentHasher } from "./content-hash.ts";
import { ArchiveError, LayerApplyError } from "./errors.ts";
import { mknod } from "./mknod.ts";
import { setXattr } from "./xattr.ts";
import { posix } from "node:path";
import { ancestors, baseOf, hostPath, joinRoot, layerPath, parentOf, resolveInRoot, RootPathError, underAny } from "./paths.ts";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

export interface ApplyOptions {
  logger: Logger;
  /** Root paths whose entries are skipped (and never deleted). */
  ignorePaths: readonly string[];
  /** Filled with root path -> content hash of every regular file written (and hardlinked), when a hasher is given. */
  hashes?: Map<string, string>;
  hasher?: ContentHasher;
  /** Filled with every root path this layer created, replaced or removed (for incremental re-indexing). */
  touched: Set<string>;
  /** ADD's rules instead of a layer's (see the top of this file). */
  untar?: UntarRules;
}

export interface UntarRules {
  /** The destination directory (a normalised root path): every entry, and every hardlink target, lands beneath it. */
  dest: string;
  /** --chown: replaces the archive's owners. */
  owner?: { uid: number; gid: number };
  /** --chmod: the mode of an entry from the archive's permission bits. */
  mode?: (bits: number, isDir: boolean) => number;
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
async function writeFile(fd: number, host: string, h: ReadHeader, body: AsyncIterable<Uint8Array>, hasher: ContentHasher | undefined, xattrFailed: (name: string, err: Error) => void): Promise<void> {
  hasher?.begin();
  try {
    for await (const chunk of body) {
      hasher?.update(chunk);
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
    if (this.opts.untar) throw err; // an archive's attributes are what the user asked for
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
    const untar = this.opts.untar;
    const h = untar ? untarHeader(e.header, untar) : e.header;
    let p: string;
    let parent: string | undefined;
    try {
      p = untar ? underDest(untar, h.name) : layerPath(h.name);
      // The root's own entry (or the archive's): the owner and mode of the root or the destination stay.
      if (p === (untar ? untar.dest : "/")) return;
      parent = this.#parents.get(parentOf(p));
      if (parent === undefined) parent = resolveInRoot(this.root, parentOf(p), true);
    } catch (err) {
      throw this.#error(h.name, err);
    }
    const name = baseOf(p);
    const target = joinRoot(parent, name);
    if (underAny(target, this.opts.ignorePaths)) {
      this.opts.logger.debug("skipping ignored layer entry", { path: target });
      return;
    }
    if (!untar && name === OPAQUE) return this.#opaque(parent);
    if (!untar && name.startsWith(WHITEOUT)) return this.#whiteout(joinRoot(parent, name.slice(WHITEOUT.length)));
    try {
      if (!this.#parents.has(parentOf(p))) {
        this.#mkdirs(h.name, parent);
        this.#parents.set(parentOf(p), parent);
      }
    } catch (err) {
      throw this.#error(h.name, err);
    }
    // Devices and FIFOs need privileges a build should not assume: Docker's untar (and BuildKit's) skip them too when they cannot.
    if (untar && !["file", "directory", "symlink", "link"].includes(h.type)) return;
    const host = hostPath(this.root, target);
    this.opts.touched.add(target);
    this.opts.hashes?.delete(target);
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
      throw this.#error(h.name, err);
    }
  }

  // Each rule set's error: a layer's names the layer entry; an archive's names the entry without the build root's
  // host path (the user knows the archive and the destination), and a full disk keeps its code for the CLI's line.
  #error(entry: string, err: unknown): Error {
    if (err instanceof ArchiveError) return err;
    // The shared checks (a parent that is not a directory, a bad hardlink) speak of layers; ADD names the archive entry.
    if (err instanceof LayerApplyError) return this.opts.untar ? new ArchiveError(entry, err.problem, err) : err;
    if (!this.opts.untar) return new LayerApplyError(entry, (err as Error).message, err);
    if (err instanceof RootPathError) return new ArchiveError(entry, err.message, err);
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOSPC" || e.code === "EDQUOT") return e;
    return new ArchiveError(entry, e.code && e.syscall ? `${e.syscall}: ${e.code}` : e.message, err);
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
        if (this.opts.hasher) this.opts.hashes?.set(target, this.opts.hasher.end(h.xattrs));
        return true;
      case "symlink":
        symlinkSync(h.linkname ?? "", host);
        break;
      case "link": {
        const src = this.opts.untar ? this.#untarLinkSource(h, this.opts.untar) : this.#linkSource(h);
        linkSync(hostPath(this.root, src), host);
        if (!this.opts.untar) this.opts.touched.add(src); // its link count and ctime changed
        const hash = this.opts.hashes?.get(src);
        if (hash !== undefined) this.opts.hashes!.set(target, hash);
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

  // Docker's and BuildKit's untar: the target, absolute or not, names an entry under the destination.
  #untarLinkSource(h: ReadHeader, untar: UntarRules): string {
    const src = underDest(untar, h.linkname ?? "");
    const resolved = joinRoot(resolveInRoot(this.root, parentOf(src), true), baseOf(src));
    const st = lstatOrUndefined(hostPath(this.root, resolved));
    if (!st || st.isDirectory()) {
      throw new ArchiveError(h.name, `hardlink to "${h.linkname}": ${src} ${st ? "is a directory" : "does not exist (hardlink targets are resolved under the destination, and must come earlier in the archive)"}`);
    }
    return resolved;
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

/** An archive entry's name as a root path under the destination; a ".." cannot climb above it. */
function underDest(untar: UntarRules, name: string): string {
  return posix.join(untar.dest, posix.normalize("/" + name)).replace(/(.)\/$/, "$1");
}

/** The header with --chown and --chmod applied (an archive entry without an owner belongs to root). */
function untarHeader(h: ReadHeader, untar: UntarRules): ReadHeader {
  const bits = (h.mode ?? 0o644) & 0o7777;
  return {
    ...h,
    uid: untar.owner?.uid ?? h.uid ?? 0,
    gid: untar.owner?.gid ?? h.gid ?? 0,
    mode: untar.mode ? untar.mode(bits, h.type === "directory") : bits,
  };
}

/** Applies entries (from readLayer) to the tree at `root` (a host directory). */
export async function applyEntries(root: string, entries: AsyncIterable<ReadEntry>, opts: ApplyOptions): Promise<void> {
  const a = new LayerApplier(root, opts);
  for await (const e of entries) await a.entry(e);
  a.finish();
}
