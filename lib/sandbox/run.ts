// What every way of running a RUN shares: the spec of one command, the options, finding the command, and the
// in-place helper process (helper.ts, kept apart so that process loads little).
import { accessSync, constants } from "node:fs";
import { constants as osConstants } from "node:os";
import { resolveHostPath } from "../rootfs/mod.ts";
import type { Logger } from "../log/mod.ts";
import { findCommand } from "./helper.ts";
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

export { HELPER_SUBCOMMAND, SandboxError, sandboxHelperMain } from "./helper.ts";

/**
 * Finds `cmd` as exec would with `root` as "/" and `cwd` as the working directory (helper.ts findCommand), symlinks
 * resolved inside the root. `file` is the path inside the root.
 */
export function lookCommand(root: string, cmd: string, env: string[], cwd: string): { file: string } | { code: 126 | 127; message: string } {
  return findCommand(cmd, env, cwd, (p) => resolveHostPath(root, p));
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
