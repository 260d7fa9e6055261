// Path rules inside a build root. Paths are "root paths": absolute, normalised, "/" is the root.
// Resolution follows symlinks the way a chroot would, so no link can lead outside the root.
import { lstatSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";

const MAX_LINKS = 40; // as Linux's MAXSYMLINKS

export class RootPathError extends Error {
  override name = "RootPathError";
}

/** Normalises a tar entry name to a root path; a ".." that would climb above the root is an error. */
export function layerPath(name: string): string {
  const out: string[] = [];
  for (const seg of name.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) throw new RootPathError(`"${name}" climbs out of the root with ".."`);
      out.pop();
    } else out.push(seg);
  }
  return "/" + out.join("/");
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

export function joinRoot(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** The host path of a root path. */
export function hostPath(root: string, p: string): string {
  return p === "/" ? root : root + p;
}

/** Every ancestor of a root path, nearest first, not including "/". */
export function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let a = parentOf(p); a !== "/"; a = parentOf(a)) out.push(a);
  return out;
}

/** True when p is one of the prefixes or lies beneath one. */
export function underAny(p: string, prefixes: readonly string[]): boolean {
  return prefixes.some((x) => x === "/" || p === x || p.startsWith(x + "/"));
}

/**
 * Resolves a root path through symlinks as if chrooted into `root`: absolute targets restart
 * at the root and ".." stops at it. Missing components are kept as they are (to be created).
 * The last component is followed only when followLast is set.
 */
export function resolveInRoot(root: string, p: string, followLast: boolean): string {
  let pending = p.split("/").filter((s) => s !== "" && s !== ".");
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const seg = pending.shift()!;
    if (seg === "..") {
      done.pop();
      continue;
    }
    if (pending.length === 0 && !followLast) {
      done.push(seg);
      break;
    }
    const host = root + "/" + [...done, seg].join("/");
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      // missing (or beneath a non-directory): kept, creation will tell
    }
    if (!isLink) {
      done.push(seg);
      continue;
    }
    if (++links > MAX_LINKS) throw new RootPathError(`too many levels of symbolic links resolving "${p}" in ${root}`);
    const target = readlinkSync(host);
    if (target.startsWith("/")) done.length = 0;
    pending = [...target.split("/").filter((s) => s !== "" && s !== "."), ...pending];
  }
  return "/" + done.join("/");
}

/**
 * The host path a path inside the root stands for, as a process chrooted into `root` would resolve it: the path
 * is cleaned first (relative means from "/", a leading ".." stays at the root: Docker's FollowSymlinkInScope),
 * then resolved by resolveInRoot. The last component is followed unless followLast is false.
 */
export function resolveHostPath(root: string, p: string, followLast = true): string {
  return join(root, resolveInRoot(root, posix.normalize("/" + p), followLast));
}
