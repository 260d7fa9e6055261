// WORKDIR: sets the working directory and creates it when missing, owned by the current USER as BuildKit does.
import { lstatSync, mkdirSync, chownSync, type Stats } from "node:fs";
import { dirname, posix } from "node:path";
import type { WorkdirInstruction } from "../dockerfile/mod.ts";
import { resolveHostPath, resolveUser } from "../rootfs/mod.ts";
import type { StepContext } from "./context.ts";
import { rootPath } from "./paths.ts";
import type { StageState, StepResult } from "./state.ts";
import { withRuntime } from "./state.ts";
import { InstructionError } from "./metadata.ts";
import { workdirCreatedBy } from "./history.ts";

export async function executeWorkdir(instr: WorkdirInstruction, state: StageState, ctx: StepContext | undefined): Promise<StepResult> {
  const dir = workdirOf(state.config.config.WorkingDir, instr.path);
  const next = withRuntime(state, { WorkingDir: dir });
  const createdBy = workdirCreatedBy(dir);
  if (!ctx) return { state: next, changes: { kind: "none" }, createdBy };
  const created: string[] = [];
  const make = (p: string) => {
    const host = resolveHostPath(ctx.rootDir, p);
    const st = lstatOrMissing(host);
    if (st?.isDirectory()) return false;
    if (st) throw new InstructionError(`WORKDIR ${dir}: ${rootPath(ctx.rootDir, host)} exists and is not a directory`);
    if (p !== "/") make(dirname(p));
    mkdirSync(host, { mode: 0o755 });
    created.push(rootPath(ctx.rootDir, host));
    return true;
  };
  if (make(dir)) {
    // No USER is uid 0, with or without an /etc/passwd (FROM scratch has none).
    const user = await resolveUser(ctx.rootDir, state.config.config.User || "0");
    // BuildKit's mkdir -p runs as the USER: every directory it creates, parents included, is owned by it.
    for (const p of created) chownSync(resolveHostPath(ctx.rootDir, p), user.uid, user.gid);
  }
  // A WORKDIR that created nothing adds no layer (BuildKit commits an empty one; see tests/conformance/README.md).
  return { state: next, changes: created.length ? { kind: "paths", paths: created } : { kind: "none" }, createdBy };
}

/**
 * The WORKDIR BuildKit records: an absolute path as written (a trailing slash kept), a relative one joined to the
 * current WORKDIR with Go's path.Join, which cleans it (no trailing slash).
 */
function workdirOf(current: string | undefined, p: string): string {
  return p.startsWith("/") ? posix.normalize(p) : posix.join("/", current || "/", p).replace(/(.)\/$/, "$1");
}

// ENOTDIR too: beneath a file nothing exists, and the walk up reaches the file and names it.
function lstatOrMissing(host: string): Stats | undefined {
  try {
    return lstatSync(host);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw e;
  }
}
