// One build, one private work directory: <base>/builds/<pid>-<start time>-<random>/ holds everything the build
// writes for itself (build roots, layer files, downloads, scratch files, the RUN runtime's state in runc/), so two
// builds on one kaniko dir never see each other's files, and removing the directory removes all of it.
// The build holds a flock(2) on <dir>/lock while it lives; the kernel drops it when the process dies (SIGKILL
// included), so a later build can tell a dead build's leftovers from a live build's files and remove them.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import { FileLock } from "../rootfs/mod.ts";
import { reapRuns } from "../sandbox/mod.ts";

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot (tells a reused pid apart). */
function startTime(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold spaces and parentheses, start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
  } catch {
    return undefined;
  }
}

export class BuildDir {
  readonly dir: string;
  readonly #builds: string;
  readonly #lock: FileLock;
  readonly #removeEmptyBase: string | undefined;
  #removed = false;

  private constructor(dir: string, builds: string, lock: FileLock, removeEmptyBase: string | undefined) {
    this.dir = dir;
    this.#builds = builds;
    this.#lock = lock;
    this.#removeEmptyBase = removeEmptyBase;
  }

  /**
   * Makes a new private directory under `<base>/builds`. `removeEmptyBase`: the base is kiln's own (in TMPDIR),
   * so it goes too once no build uses it.
   */
  static create(base: string, opts: { removeEmptyBase: boolean }): BuildDir {
    const builds = join(base, "builds");
    for (let attempt = 0; ; attempt++) {
      try {
        mkdirSync(builds, { recursive: true });
        const dir = mkdtempSync(join(builds, `${process.pid}-${startTime("self") ?? 0}-`));
        const lock = FileLock.try(join(dir, "lock"))!; // a new file: nobody else holds it
        return new BuildDir(dir, builds, lock, opts.removeEmptyBase ? base : undefined);
      } catch (e) {
        // Another build removed the (then empty) parents between mkdir and mkdtemp: make them again.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) throw e;
      }
    }
  }

  /** Removes the directory; synchronous, so an interrupted build can remove it and exit at once. Idempotent. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    rmSync(this.dir, { recursive: true, force: true });
    this.#lock.release();
    removeIfEmpty(this.#builds);
    if (this.#removeEmptyBase) removeIfEmpty(this.#removeEmptyBase);
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch { /* in use by another build, or gone already */ }
}

/**
 * The lock of the build that made `<builds>/<name>` when that build is gone (or "gone" when it died before it
 * made its lock); undefined while it lives. The name is asked first: a live process of this pid namespace is
 * never taken for dead, not even in the instant between making its directory and locking it.
 */
function deadOwner(dir: string, name: string): FileLock | "gone" | undefined {
  const m = /^(\d+)-(\d+)-/.exec(name);
  if (!m || startTime(Number(m[1])) === m[2]) return undefined;
  // Gone from this pid namespace, or alive in another one sharing the kaniko dir: only a free lock tells.
  try {
    return FileLock.try(join(dir, "lock"), { create: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw e;
  }
}

/**
 * Removes the directories under `<base>/builds` of builds whose process is gone (killed by SIGKILL, a crash,
 * a full disk), after killing the RUN containers they left running.
 */
export async function reapDeadBuilds(base: string, logger: Logger): Promise<void> {
  const builds = join(base, "builds");
  let names: string[];
  try {
    names = readdirSync(builds);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(builds, name);
    let owner;
    try {
      owner = deadOwner(dir, name);
    } catch {
      continue; // not a build directory of ours (a file, no permission): leave it
    }
    if (!owner) continue;
    try {
      logger.info(`Removing ${dir}, left by a build that is gone`);
      await reapRuns(join(dir, "runc"));
      rmSync(dir, { recursive: true, force: true });
    } finally {
      if (owner !== "gone") owner.release();
    }
  }
}
