// Mount points a RUN --mount needs but the image lacks. They are made before the command runs and removed
// after it, with their parent's times put back, so nothing created only to hold a mount lands in the layer
// (BuildKit's executor cleans its mount stubs the same way).
import { lstatSync, mkdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { setTimesNs } from "../sandbox/mod.ts";
import { resolveHostPath } from "../rootfs/mod.ts";

export class MountPointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MountPointError";
  }
}

export interface Stub {
  /** The host path to mount on. */
  host: string;
  /** Paths created, outermost first. */
  created: string[];
  kind: "dir" | "file";
  /** Times of the directory the outermost created path went into. */
  parent?: { path: string; atimeNs: bigint; mtimeNs: bigint };
}

/** Makes `target` (absolute, in-root) exist as a `kind`, following symlinks the way the chrooted command would. */
export function makeStub(root: string, target: string, kind: "dir" | "file"): Stub {
  const host = resolveHostPath(root, target);
  const stub: Stub = { host, created: [], kind };
  const missing: string[] = [];
  let p = host;
  while (p !== root && !exists(p)) { missing.unshift(p); p = dirname(p); }
  if (missing.length) {
    const st = statSync(p, { bigint: true });
    if (!st.isDirectory()) throw new MountPointError(`mount target ${target}: /${relative(root, p)} is not a directory`);
    stub.parent = { path: p, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
    for (const [i, m] of missing.entries()) {
      if (i === missing.length - 1 && kind === "file") writeFileSync(m, "", { mode: 0o644 });
      else mkdirSync(m, { mode: 0o755 });
      stub.created.push(m);
    }
  } else {
    const st = statSync(host);
    if (kind === "dir" && !st.isDirectory()) throw new MountPointError(`mount target ${target} exists in the image and is not a directory`);
    if (kind === "file" && st.isDirectory()) throw new MountPointError(`mount target ${target} is a directory; the mount needs a file there`);
  }
  return stub;
}

/** Removes what makeStub created, when the command left it empty; restores the parent's times. */
export function removeStub(stub: Stub): void {
  for (const p of [...stub.created].reverse()) {
    try {
      if (p === stub.host && stub.kind === "file") {
        if (lstatSync(p).size !== 0) return;
        unlinkSync(p);
      } else rmdirSync(p);
    } catch {
      return; // the command put something there: it is the command's file now, and belongs in the layer
    }
  }
  if (stub.parent) {
    try { setTimesNs(stub.parent.path, stub.parent.atimeNs, stub.parent.mtimeNs); } catch { /* removed by the command */ }
  }
}

function exists(p: string): boolean {
  try { lstatSync(p); return true; } catch { return false; }
}

