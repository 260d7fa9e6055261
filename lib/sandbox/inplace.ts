// How a RUN executes in the in-place mode (kaniko's model, inside the executor container): the root is "/",
// so there is nothing to mount or chroot into. The helper (kiln's hidden subcommand) still does the user
// switch and exec, because neither Bun nor Node can set supplementary groups on a child. It starts in a
// process group of its own; when the command exits the whole group is SIGKILLed, so daemons a RUN left
// behind do not outlive their step (kaniko does the same).
import { readFileSync } from "node:fs";
import { exitStatus, HELPER_SUBCOMMAND, pump, type RunSpec, type SandboxOptions } from "./run.ts";
import { trackRun } from "./lifecycle.ts";

/** Runs one command with "/" as its root; resolves to its exit code (128+N when killed by signal N). */
export async function runInPlace(spec: Omit<RunSpec, "root">, opts: SandboxOptions): Promise<number> {
  const full: RunSpec = { ...spec, root: "/" };
  opts.logger.debug(`in-place: ${JSON.stringify(spec.argv)} as ${spec.uid}:${spec.gid}`);
  const proc = Bun.spawn([...opts.selfCommand, HELPER_SUBCOMMAND], {
    stdin: new Blob([JSON.stringify(full)]), stdout: "pipe", stderr: "pipe", env: {}, detached: true,
  });
  // Output streams while the command runs; a background child still holding the pipes would keep the
  // pumps waiting, so the group is killed as soon as the command itself exits.
  const pumps = Promise.all([pump(proc.stdout, opts.stdout), pump(proc.stderr, opts.stderr)]);
  const untrack = trackRun({ build: opts.runtimeDir, kill: async () => { killGroup(proc.pid); await proc.exited; } });
  try {
    await proc.exited;
  } finally {
    untrack();
    killGroup(proc.pid);
  }
  await pumps;
  return exitStatus(proc);
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/**
 * Why an in-place RUN --network=none cannot have a network namespace of its own, or undefined when it can:
 * unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN, which a pod does not grant by default. `status`: the text of
 * /proc/self/status (a parameter for tests). The helper still fails the RUN if unshare itself is refused.
 */
export function netNamespaceUnavailable(status: string = readStatus()): string | undefined {
  const CAP_SYS_ADMIN = 21n;
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!eff) return "the process's capabilities are unknown";
  return (BigInt(`0x${eff[1]}`) >> CAP_SYS_ADMIN) & 1n ? undefined : "no CAP_SYS_ADMIN";
}

function readStatus(): string {
  try { return readFileSync("/proc/self/status", "utf8"); } catch { return ""; }
}
