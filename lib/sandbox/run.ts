// What every way of running a RUN shares: the spec of one command, the options, and the helper process.
// The helper (kiln itself, hidden subcommand) serves the in-place mode: neither Bun nor Node can set
// supplementary groups on a child, so the helper switches user and groups and then execs the command.
import { readFileSync, statSync, accessSync, constants } from "node:fs";
import { posix } from "node:path";
import { constants as osConstants } from "node:os";
import { resolveHostPath } from "../rootfs/mod.ts";
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
  /** The build's directory for runtime state (runc's containers and bundles); RUNs are tracked under it. */
  runtimeDir: string;
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
    const found = lookCommand("/", spec.argv[0] ?? "", spec.env, process.cwd());
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
 * Finds `cmd` as exec would with `root` as "/" and `cwd` as the working directory: through the PATH of `env` (the
 * last PATH= wins, as in the container's environment) unless it names a path. What cannot run gets Docker's exit
 * code and words: 127 not found, 126 not executable. `file` is the path inside the root.
 */
export function lookCommand(root: string, cmd: string, env: string[], cwd: string): { file: string } | { code: 126 | 127; message: string } {
  const inRoot = (p: string) => (p.startsWith("/") ? p : posix.join(cwd, p));
  const named = cmd.includes("/");
  const path = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  const candidates = named ? [inRoot(cmd)] : path.split(":").map((d) => posix.join(inRoot(d || "."), cmd));
  for (const c of candidates) {
    let host: string;
    try {
      host = resolveHostPath(root, c);
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

/** The first of `paths` this process may execute. */
export function firstExecutable(paths: readonly string[]): string | undefined {
  for (const p of paths) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}

/** Streams a child's output into the sinks as it comes (a RUN's output is never buffered). */
export async function pump(s: ReadableStream<Uint8Array>, to?: (c: Uint8Array) => void): Promise<void> {
  for await (const chunk of s) to?.(chunk);
}

/** A finished child's exit status as a shell reports it: its code, or 128+N when signal N killed it. */
export function exitStatus(proc: { signalCode: string | number | null; exitCode: number | null }): number {
  if (typeof proc.signalCode === "number") return 128 + proc.signalCode;
  if (proc.signalCode) return 128 + (osConstants.signals[proc.signalCode as keyof typeof osConstants.signals] ?? 9);
  return proc.exitCode ?? 1;
}
