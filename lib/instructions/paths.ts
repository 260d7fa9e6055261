// Paths of instructions inside a build root (symlinks are resolved by lib/rootfs's resolveHostPath).
import { posix } from "node:path";

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
