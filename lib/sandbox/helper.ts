// The in-place RUN helper's own code: kiln starts itself with HELPER_SUBCOMMAND once per RUN, and that process
// loads only this file and libc.ts (cli/main.ts dispatches before kiln's bundle is evaluated), so what it
// imports stays small: no rootfs, no builder. Neither Bun nor Node can set supplementary groups on a child, so
// the helper switches user and groups and then execs the command.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { posix } from "node:path";
import { chdir, execve, setParentDeathSignal, switchUser, SyscallError, unshareNetwork } from "./libc.ts";
import type { RunSpec } from "./run.ts";

export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SandboxError";
  }
}

export const HELPER_SUBCOMMAND = "__sandbox-exec";

/** The helper's body (in-place mode: the root is "/"): never returns. */
export function sandboxHelperMain(): never {
  let spec: RunSpec;
  try {
    spec = JSON.parse(readFileSync(0, "utf8"));
  } catch (e) {
    process.stderr.write(`kiln sandbox: bad spec on stdin: ${e}\n`);
    process.exit(125);
  }
  try {
    if (spec.root !== "/") throw new SandboxError("the helper runs commands in place only (root /)");
    if (spec.mounts?.length) throw new SandboxError("RUN --mount needs the isolated mode (in place, mounts would land on the real /)");
    if (spec.network === "none") {
      // Before the user switch, which drops the capability; the command must never run with the network.
      try {
        unshareNetwork();
      } catch (e) {
        throw new SandboxError(`RUN --network=none: no network namespace of its own (${e instanceof Error ? e.message : e}); the command did not run`);
      }
    } else if (spec.network !== undefined && spec.network !== "host") {
      throw new SandboxError("in place, a RUN has the container's network or none");
    }
    chdir(isDir(spec.cwd) ? spec.cwd : "/");
    switchUser(spec.uid, spec.gid, spec.groups);
    // Set after the user switch, which clears it: if kiln dies, the command is killed rather than orphaned.
    setParentDeathSignal(9);
    // The root is the real "/": the kernel resolves symlinks on the way as exec will.
    const found = findCommand(spec.argv[0] ?? "", spec.env, process.cwd(), (p) => p);
    if ("code" in found) {
      process.stderr.write(`${found.message}\n`);
      process.exit(found.code);
    }
    execve(found.file, spec.argv, spec.env);
  } catch (e) {
    const notFound = e instanceof SyscallError && e.errno === 2;
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(notFound ? 127 : 126);
  }
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Finds `cmd` as exec would with `cwd` as the working directory: through the PATH of `env` (the last PATH= wins,
 * as in the container's environment) unless it names a path. `toHost` maps a path inside the root to the host's.
 * What cannot run gets Docker's exit code and words: 127 not found, 126 not executable. `file` is the path inside
 * the root.
 */
export function findCommand(cmd: string, env: string[], cwd: string, toHost: (p: string) => string): { file: string } | { code: 126 | 127; message: string } {
  const inRoot = (p: string) => (p.startsWith("/") ? p : posix.join(cwd, p));
  const named = cmd.includes("/");
  const path = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  const candidates = named ? [inRoot(cmd)] : path.split(":").map((d) => posix.join(inRoot(d || "."), cmd));
  for (const c of candidates) {
    let host: string;
    try {
      host = toHost(c);
      if (!statSync(host).isFile()) continue;
    } catch { continue; }
    try {
      accessSync(host, constants.X_OK);
      return { file: c };
    } catch {
      if (named) return { code: 126, message: `exec ${cmd}: permission denied` };
    }
  }
  return { code: 127, message: named ? `exec ${cmd}: no such file or directory` : `exec: "${cmd}": executable file not found in $PATH` };
}
