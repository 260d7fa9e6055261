// What every way of running a RUN shares: the spec of one command, the options, and the helper process.
// The helper (kiln itself, hidden subcommand) serves the in-place mode: neither Bun nor Node can set
// supplementary groups on a child, so the helper switches user and groups and then execs the command.
import { readFileSync, statSync, accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import { chdir, execve, setParentDeathSignal, switchUser, SyscallError, unshareNetwork } from "./libc.ts";
import type { SandboxMount } from "./mounts.ts";
import type { RunNetwork } from "./network.ts";

export interface RunSpec {
  /** Build root on the host. */
  root: string;
  argv: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  /** RUN --mount targets, host paths inside the build root (isolated mode only: in place, they are placed in "/"). */
  mounts?: SandboxMount[];
  /** "none": a new network namespace with only loopback; a namespace to join; otherwise the host's network. */
  network?: RunNetwork;
}

export interface SandboxOptions {
  /** How to start kiln itself: [binary] when compiled, [bun, cli/main.ts] from source. */
  selfCommand: string[];
  /** The build's directory for runtime state (runc's containers and bundles); isolated mode. */
  runtimeDir?: string;
  logger: Logger;
  /** Receives the command's output (RUN output is streamed, not buffered). */
  stdout?: (chunk: Uint8Array) => void;
  stderr?: (chunk: Uint8Array) => void;
}

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
    const file = lookPath(spec.argv[0], spec.env);
    execve(file, spec.argv, spec.env);
  } catch (e) {
    const notFound = e instanceof SyscallError && e.errno === 2;
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(notFound || e instanceof NotFoundError ? 127 : 126);
  }
}

class NotFoundError extends Error {}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function lookPath(cmd: string, env: string[]): string {
  if (cmd.includes("/")) return cmd;
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of path.split(":")) {
    const p = join(dir || ".", cmd);
    try {
      if (statSync(p).isFile()) { accessSync(p, constants.X_OK); return p; }
    } catch { /* next */ }
  }
  throw new NotFoundError(`exec: "${cmd}": executable file not found in $PATH`);
}
