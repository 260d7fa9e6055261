// How a RUN executes in the isolated mode: as a container of the OCI runtime runc (the runtime BuildKit and
// buildah use), with the build root as its rootfs and a spec equal to Docker's defaults (spec.ts). The command is
// PID 1 of its namespace, so whatever it leaves running dies with it. Every container is recorded under the
// build's runtime directory, so an interrupted build (abortRuns), a build killed outright (the watchdog below)
// and a later build finding a dead one's leftovers (reapRuns) can all remove what is still running.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveHostPath } from "../rootfs/mod.ts";
import { trackRun } from "./lifecycle.ts";
import { containerSpec } from "./spec.ts";
import { exitStatus, firstExecutable, lookCommand, pump, SandboxError, type RunSpec, type SandboxOptions } from "./run.ts";

const RUNC_PATHS = ["/usr/sbin/runc", "/usr/bin/runc", "/sbin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc", "/bin/runc"];

/** The runc binary, or a SandboxError saying how to get one. */
export function findRuntime(candidates: readonly string[] = RUNC_PATHS): string {
  const found = firstExecutable(candidates);
  if (found) return found;
  throw new SandboxError(
    "the isolated mode runs every RUN in a container of the OCI runtime runc, which is not installed here: " +
    "install it (Debian/Ubuntu: apt-get install runc; Fedora/RHEL: dnf install runc), or build in kiln's executor image (in-place mode)",
  );
}

const stateDir = (runtimeDir: string) => join(runtimeDir, "state");

let counter = 0;

/** Runs one command in the build root; resolves to its exit code (128+N when killed by signal N). */
export async function runIsolated(spec: RunSpec, opts: SandboxOptions): Promise<number> {
  const runc = findRuntime();
  const cwd = inRootDir(spec.root, spec.cwd) ? spec.cwd : "/";
  // runc would fail with its own message and exit 1; Docker reports these as 127 and 126, and so does kiln.
  const found = lookCommand(spec.root, spec.argv[0] ?? "", spec.env, cwd);
  if ("code" in found) {
    opts.stderr?.(new TextEncoder().encode(found.message + "\n"));
    return found.code;
  }
  const id = `kiln-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const bundle = join(opts.runtimeDir, "bundles", id);
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  writeFileSync(join(bundle, "config.json"), JSON.stringify(containerSpec({
    root: spec.root, argv: spec.argv, env: spec.env, cwd, uid: spec.uid, gid: spec.gid, groups: spec.groups,
    mounts: spec.mounts ?? [], network: spec.network ?? "host",
  })));
  const state = stateDir(opts.runtimeDir);
  const log = join(bundle, "runc.log");
  opts.logger.debug(`sandbox: ${JSON.stringify(spec.argv)} in ${spec.root} as ${spec.uid}:${spec.gid} (runc container ${id})`);
  const watchdog = Watchdog.hold(runc, state);
  const proc = Bun.spawn([runc, "--root", state, "--log", log, "--log-format", "json", "run", "--bundle", bundle, id], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  const untrack = trackRun({
    build: opts.runtimeDir,
    kill: async () => {
      Bun.spawnSync([runc, "--root", state, "delete", "--force", id], { stdout: "ignore", stderr: "ignore" });
      await proc.exited;
    },
  });
  try {
    await Promise.all([pump(proc.stdout, opts.stdout), pump(proc.stderr, opts.stderr), proc.exited]);
    const failure = runtimeFailure(log);
    if (failure) throw new SandboxError(`runc could not start the RUN's container: ${failure}`);
    return exitStatus(proc);
  } finally {
    untrack();
    watchdog.release();
    rmSync(bundle, { recursive: true, force: true });
  }
}

/** runc's own error (it could not create or start the container), as opposed to the command's exit status. */
function runtimeFailure(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return undefined;
  }
  let msg: string | undefined;
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string };
      if (e.level === "error" || e.level === "fatal") msg = e.msg;
    } catch { /* not JSON */ }
  }
  return msg;
}

function inRootDir(root: string, p: string): boolean {
  try {
    return statSync(resolveHostPath(root, p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * One watchdog per build's runtime directory while RUNs are going: a small detached shell that waits for kiln's
 * end of a pipe to close and then force-deletes every container still recorded there. The pipe closes however
 * kiln ends, SIGKILL included, so a RUN never outlives the build that started it.
 */
class Watchdog {
  static readonly #byState = new Map<string, Watchdog>();
  #users = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  readonly #proc: ReturnType<typeof Bun.spawn> | undefined;

  private constructor(private readonly runc: string, private readonly state: string) {
    // The directory check: `runc list` would create the state directory again after a finished build removed it.
    const script = 'cat >/dev/null 2>&1; [ -d "$1" ] || exit 0; for id in $("$0" --root "$1" list -q 2>/dev/null); do "$0" --root "$1" delete --force "$id" >/dev/null 2>&1; done';
    try {
      this.#proc = Bun.spawn(["/bin/sh", "-c", script, runc, state], { stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true });
      this.#proc.unref();
    } catch {
      this.#proc = undefined; // no /bin/sh: interrupted builds are still handled; only SIGKILL's leftovers wait for reapRuns
    }
  }

  static hold(runc: string, state: string): Watchdog {
    let w = Watchdog.#byState.get(state);
    if (!w) Watchdog.#byState.set(state, (w = new Watchdog(runc, state)));
    w.#users++;
    if (w.#idle) clearTimeout(w.#idle);
    w.#idle = undefined;
    return w;
  }

  /** After the last RUN of a while, the watchdog is let go (it finds nothing to delete and exits). */
  release(): void {
    if (--this.#users > 0) return;
    this.#idle = setTimeout(() => {
      if (this.#users > 0) return;
      Watchdog.#byState.delete(this.state);
      const stdin = this.#proc?.stdin;
      if (stdin && typeof stdin !== "number") void stdin.end();
    }, 2000);
    this.#idle.unref();
  }
}

/**
 * Kills and forgets what a dead build left running: the containers recorded under its runtime directory
 * (`<build dir>/runc`). Safe on a directory that does not exist or holds nothing.
 */
export async function reapRuns(runtimeDir: string): Promise<void> {
  const state = stateDir(runtimeDir);
  if (!existsSync(state)) return;
  let runc: string;
  try { runc = findRuntime(); } catch { return; } // no runtime, so nothing of it can be running
  const list = Bun.spawnSync([runc, "--root", state, "list", "-q"], { stdout: "pipe", stderr: "ignore" });
  for (const id of list.stdout.toString().split("\n").filter(Boolean)) {
    Bun.spawnSync([runc, "--root", state, "delete", "--force", id], { stdout: "ignore", stderr: "ignore" });
  }
}
