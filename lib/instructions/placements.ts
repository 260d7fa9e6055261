// RUN --mount in the in-place mode, where nothing can be mounted (a pod has no CAP_SYS_ADMIN): what a mount would
// show is put at its target in the root before the command and taken away after it. Whatever the image had there
// is moved aside to scratch space (rename, or a copy keeping owners, modes, xattrs and nanosecond times across file
// systems) and moved back, and the directory it sits in gets its times back. A restored entry then differs from the
// snapshot baseline only in its ctime, which the `full` snapshot settles by content (and `redo`/`time` never look at),
// so the layer holds the command's own changes only. The root is a parameter: tests give a temp dir, never "/".
import {
  chmodSync, chownSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmdirSync, rmSync,
  symlinkSync, writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { getXattrs, resolveHostPath, setXattr } from "../rootfs/mod.ts";
import { setTimesNs } from "../sandbox/mod.ts";
import { MountPointError } from "./stubs.ts";

interface Times { path: string; atimeNs: bigint; mtimeNs: bigint }

function timesOf(path: string): Times {
  const st = lstatSync(path, { bigint: true });
  return { path, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

function exists(p: string): boolean {
  try { lstatSync(p); return true; } catch { return false; }
}

/** Copies `src` to `dest` (which must not exist) as it is: type, content, owner, mode, xattrs, times to the nanosecond. */
export function copyExact(src: string, dest: string): void {
  const st = lstatSync(src, { bigint: true });
  if (st.isDirectory()) {
    mkdirSync(dest);
    for (const name of readdirSync(src)) copyExact(join(src, name), join(dest, name));
  } else if (st.isFile()) {
    copyFileSync(src, dest);
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dest);
  } else {
    throw new MountPointError(`cannot move /${relative("/", src)} aside: only files, directories and symlinks can be moved across file systems`);
  }
  lchownSync(dest, Number(st.uid), Number(st.gid));
  if (!st.isSymbolicLink()) chmodSync(dest, Number(st.mode) & 0o7777); // after chown, which clears set-id bits
  for (const [k, v] of Object.entries(getXattrs(src))) setXattr(dest, k, v);
  setTimesNs(dest, st.atimeNs, st.mtimeNs);
}

/** rename(2), or a copy and removal where the two paths are on different file systems (or overlayfs refuses a directory). */
export function moveExact(src: string, dest: string): void {
  try {
    renameSync(src, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    copyExact(src, dest);
    rmSync(src, { recursive: true, force: true });
  }
}

export type Content =
  /** A directory moved in and moved back after (a cache: the command's writes persist in it). */
  | { kind: "move"; dir: string }
  /** A copy of a file or tree, thrown away after (a bind: the command's writes are discarded). */
  | { kind: "copy"; source: string }
  /** An empty directory (tmpfs; mode 1777 as a fresh tmpfs). */
  | { kind: "empty" }
  /** A file with these bytes (a secret). */
  | { kind: "file"; bytes: Uint8Array; mode: number; uid: number; gid: number };

/**
 * The placements of one RUN. place() each mount in order; restore() (always, also when the command failed)
 * undoes them in reverse, leaving the root as it was apart from what the command itself did outside the targets.
 */
export class Placements {
  readonly #root: string;
  readonly #aside: string;
  readonly #undo: (() => void)[] = [];
  #n = 0;

  /** `aside`: a private scratch directory, outside what snapshots see, for what the image had at the targets. */
  constructor(root: string, aside: string) {
    this.#root = root;
    this.#aside = aside;
  }

  /** Puts `content` at `target` (absolute, in-root; symlinks on the way followed as the command would). */
  place(target: string, content: Content): void {
    const host = resolveHostPath(this.#root, target);
    const wantDir = content.kind === "empty" || content.kind === "move" || (content.kind === "copy" && lstatSync(content.source).isDirectory());
    // The directory that changes as the target comes and goes: the nearest existing ancestor.
    const created: string[] = [];
    let anchor = dirname(host);
    while (anchor !== this.#root && anchor !== "/" && !exists(anchor)) { created.unshift(anchor); anchor = dirname(anchor); }
    if (!lstatSync(anchor).isDirectory()) throw new MountPointError(`mount target ${target}: /${relative(this.#root, anchor)} is not a directory`);
    let aside: string | undefined;
    if (exists(host)) {
      const isDir = lstatSync(host).isDirectory();
      if (wantDir && !isDir) throw new MountPointError(`mount target ${target} exists in the image and is not a directory`);
      if (!wantDir && isDir) throw new MountPointError(`mount target ${target} is a directory; the mount needs a file there`);
      aside = join(this.#aside, `${this.#n++}`);
    }
    const before = timesOf(anchor);
    const steps: (() => void)[] = [];
    const undo = () => {
      const after = timesOf(anchor); // the command's own change to the directory stays
      for (const s of steps.reverse()) s();
      setTimesNs(anchor, after.atimeNs, after.mtimeNs);
    };
    try {
      for (const d of created) {
        mkdirSync(d, { mode: 0o755 });
        steps.push(() => { try { rmdirSync(d); } catch { /* the command put something there: its file now */ } });
      }
      if (aside) {
        moveExact(host, aside);
        steps.push(() => { rmSync(host, { recursive: true, force: true }); moveExact(aside!, host); });
      } else {
        steps.push(() => rmSync(host, { recursive: true, force: true }));
      }
      switch (content.kind) {
        case "move":
          moveExact(content.dir, host);
          steps.push(() => moveExact(host, content.dir));
          break;
        case "copy":
          copyExact(content.source, host);
          break;
        case "empty":
          mkdirSync(host);
          chmodSync(host, 0o1777);
          break;
        case "file":
          writeFileSync(host, content.bytes, { mode: 0o600 });
          chownSync(host, content.uid, content.gid);
          chmodSync(host, content.mode);
          break;
      }
      setTimesNs(anchor, before.atimeNs, before.mtimeNs); // the command sees the directory as the image had it
    } catch (e) {
      undo();
      throw e;
    }
    this.#undo.push(undo);
  }

  /** Undoes every placement, the last first; the first failure is thrown after all were tried. */
  restore(): void {
    let failure: unknown;
    for (const u of this.#undo.splice(0).reverse()) {
      try { u(); } catch (e) { failure ??= e; }
    }
    if (failure !== undefined) throw failure;
  }
}

