// Cross-process locks on files, for what builds share on purpose (a kaniko dir used by several builds at once):
// flock(2) through libc, because the kernel drops the lock when its holder dies, even by SIGKILL, so a lock
// never outlives a crashed build and "can I take it?" also answers "is its owner still alive?".
import { closeSync, openSync } from "node:fs";
import { dlopen, FFIType, read } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
const EINTR = 4, EWOULDBLOCK = 11;

export class FileLockError extends Error {
  override name = "FileLockError";
  constructor(path: string, readonly errno: number) {
    super(`flock ${path}: ${String(libc.symbols.strerror(errno))}`);
  }
}

/** A held lock; release() closes the descriptor, which drops it. */
export class FileLock {
  #fd: number | undefined;
  private constructor(fd: number) { this.#fd = fd; }

  /**
   * Takes the lock on `path` (created if missing) without waiting; undefined when another holder has it.
   * `shared`: several shared holders may hold it at once, an exclusive one excludes all others.
   */
  static try(path: string, opts: { shared?: boolean; create?: boolean } = {}): FileLock | undefined {
    // Node opens with O_CLOEXEC: a RUN started by this process never inherits (and so never holds) the lock.
    const fd = openSync(path, opts.create === false ? "r" : "a");
    for (;;) {
      if (libc.symbols.flock(fd, (opts.shared ? LOCK_SH : LOCK_EX) | LOCK_NB) === 0) return new FileLock(fd);
      const errno = read.i32(libc.symbols.__errno_location()!, 0);
      if (errno === EINTR) continue;
      closeSync(fd);
      if (errno === EWOULDBLOCK) return undefined;
      throw new FileLockError(path, errno);
    }
  }

  /**
   * Waits for the lock. The wait polls rather than blocking in flock(2), which would stop this process's event
   * loop (other stages, signal handling) for as long as another build holds the lock.
   */
  static async acquire(path: string, opts: { shared?: boolean } = {}): Promise<FileLock> {
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      const lock = FileLock.try(path, opts);
      if (lock) return lock;
      await Bun.sleep(delay);
    }
  }

  release(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
