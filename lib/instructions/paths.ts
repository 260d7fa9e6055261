// Paths inside a build root, resolved the way a chrooted process would see them: symlinks are followed,
// but `..` and absolute link targets are clamped to the root, so nothing can point outside it.
import { lstatSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";

/** Resolves `p` (absolute, in-root) to a host path; the last element is followed only if `followLast`. */
export function hostPath(root: string, p: string, followLast = true): string {
  const parts = posix.normalize("/" + p).split("/").filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === "." ) continue;
    if (name === "..") { done.pop(); continue; }
    const candidate = join(root, ...done, name);
    let st;
    try { st = lstatSync(candidate); } catch { done.push(name); continue; }
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++hops > 255) throw new Error(`too many levels of symbolic links resolving ${p}`);
      const target = readlinkSync(candidate);
      if (target.startsWith("/")) done.length = 0;
      parts.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    done.push(name);
  }
  return join(root, ...done);
}

/** The in-root path a host path inside `root` stands for. */
export function rootPath(root: string, host: string): string {
  const rel = host.slice(root.length);
  return rel === "" ? "/" : rel;
}

/** WORKDIR-relative paths joined as Docker does. */
export function resolveAgainst(workdir: string | undefined, p: string): string {
  const abs = p.startsWith("/") ? p : posix.join(workdir || "/", p);
  const norm = posix.normalize(abs);
  return p.endsWith("/") && norm !== "/" ? norm + "/" : norm;
}
