// How a RUN executes in the isolated mode: a helper process (kiln itself, hidden subcommand) is started by
// util-linux `unshare` in new mount and PID namespaces; it mounts /proc, /dev and /sys into the build root,
// chroots, switches user and execs the command. The command is PID 1 of its namespace, so when it exits the
// kernel kills everything it left behind (kaniko kills the process group for the same reason).
import { existsSync, readFileSync, statSync, accessSync, constants, mkdirSync } from "node:fs";
import { join } from "node:path";
import { constants as osConstants } from "node:os";
import type { Logger } from "../log/mod.ts";
import { chdir, chroot, execve, switchUser, SyscallError } from "./libc.ts";
import { applyMounts, loopbackUp, type SandboxMount } from "./mounts.ts";

export interface RunSpec {
  /** Build root on the host. */
  root: string;
  argv: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  /** RUN --mount targets, made inside the private mount namespace (isolated mode only). */
  mounts?: SandboxMount[];
  /** "none": a new network namespace with only loopback; otherwise the host's network. */
  network?: "none" | "host";
}

export interface SandboxOptions {
  /** How to start kiln itself: [binary] when compiled, [bun, cli/main.ts] from source. */
  selfCommand: string[];
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

/** Runs one command in the build root; resolves to its exit code (128+N when killed by signal N). */
export async function runIsolated(spec: RunSpec, opts: SandboxOptions): Promise<number> {
  if (!existsSync("/usr/bin/unshare") && !existsSync("/bin/unshare")) {
    throw new SandboxError("the isolated mode needs util-linux `unshare` on the host (apt-get install util-linux)");
  }
  const net = spec.network === "none" ? ["--net"] : [];
  const argv = ["unshare", "--mount", "--pid", ...net, "--fork", "--kill-child", "--propagation", "private", ...opts.selfCommand, HELPER_SUBCOMMAND];
  opts.logger.debug(`sandbox: ${JSON.stringify(spec.argv)} in ${spec.root} as ${spec.uid}:${spec.gid}`);
  const proc = Bun.spawn(argv, { stdin: new Blob([JSON.stringify(spec)]), stdout: "pipe", stderr: "pipe", env: {} });
  const pump = async (s: ReadableStream<Uint8Array>, to?: (c: Uint8Array) => void) => {
    for await (const chunk of s) to?.(chunk);
  };
  await Promise.all([pump(proc.stdout, opts.stdout), pump(proc.stderr, opts.stderr), proc.exited]);
  if (proc.signalCode) return 128 + (osConstants.signals[proc.signalCode as keyof typeof osConstants.signals] ?? 9);
  return proc.exitCode ?? 1;
}

/** The helper's body: runs inside the new namespaces, never returns. */
export function sandboxHelperMain(): never {
  let spec: RunSpec;
  try {
    spec = JSON.parse(readFileSync(0, "utf8"));
  } catch (e) {
    process.stderr.write(`kiln sandbox: bad spec on stdin: ${e}\n`);
    process.exit(125);
  }
  try {
    // Before the chroot: the host's `ip`, not the image's, brings loopback up.
    if (spec.network === "none") loopbackUp();
    // Root "/" is the in-place mode: the container's own /proc, /dev and /sys are already there.
    if (spec.root !== "/") {
      mountSystemDirs(spec.root);
      applyMounts(spec.root, spec.mounts ?? []);
      chroot(spec.root);
    } else if (spec.mounts?.length) {
      throw new SandboxError("RUN --mount needs the isolated mode (in place, mounts would land on the real /)");
    }
    chdir(isDir(spec.cwd) ? spec.cwd : "/");
    switchUser(spec.uid, spec.gid, spec.groups);
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

function mountSystemDirs(root: string): void {
  const mount = (args: string[]) => {
    const r = Bun.spawnSync(["mount", ...args], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new SandboxError(`mount ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  };
  // The build root becomes a mount point, as a container's root is.
  mount(["--bind", root, root]);
  for (const d of ["proc", "dev", "sys"]) mkdirSync(join(root, d), { recursive: true });
  mount(["-t", "proc", "proc", join(root, "proc")]);
  mount(["--rbind", "/dev", join(root, "dev")]);
  mount(["--rbind", "/sys", join(root, "sys")]);
  mount(["-o", "remount,bind,ro", join(root, "sys")]);
  for (const f of ["etc/resolv.conf", "etc/hosts"]) {
    const target = join(root, f);
    if (existsSync(`/${f}`) && existsSync(target) && statSync(target).isFile()) mount(["--bind", "-o", "ro", `/${f}`, target]);
  }
}
