// lstat through libc's statx, read straight out of one reused buffer. A no-op snapshot in a
// 100,000-file tree is 100,000 lstat calls; node:fs builds a Stats object (with BigInts for
// nanosecond times) for each, which costs more than the system call. statx relative to an open
// directory also spares the kernel a full path walk per file.
import { dlopen, FFIType } from "bun:ffi";
import { O_CLOEXEC, O_DIRECTORY } from "./open-flags.ts";

const libc = dlopen("libc.so.6", {
  statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;

// struct statx (linux/stat.h) as 32-bit words; its layout is the same on every architecture.
// Passed as typed arrays, not as pointers taken once: JSC may move a small typed array's storage.
const STATX = new Uint32Array(64);
const NAME = new Uint8Array(16384);
const encoder = new TextEncoder();

/** The fields of the last successful stat call (valid until the next one). */
export const stx = {
  mode: () => STATX[7]! & 0xffff,
  uid: () => STATX[5]!,
  gid: () => STATX[6]!,
  nlink: () => STATX[4]!,
  ino: () => STATX[8]! + STATX[9]! * 2 ** 32,
  size: () => STATX[10]! + STATX[11]! * 2 ** 32,
  // Seconds are signed 64-bit; the high word is read as signed so pre-1970 times stay negative.
  ctimeSec: () => STATX[24]! + (STATX[25]! | 0) * 2 ** 32,
  ctimeNsec: () => STATX[26]!,
  mtimeSec: () => STATX[28]! + (STATX[29]! | 0) * 2 ** 32,
  mtimeNsec: () => STATX[30]!,
  rdev: () => STATX[32]! * 2 ** 32 + STATX[33]!,
  dev: () => STATX[34]! * 2 ** 32 + STATX[35]!,
};

// A NUL-terminated copy of s in the shared name buffer, or a fresh buffer for very long names.
function cName(s: string): Uint8Array {
  const r = encoder.encodeInto(s, NAME.subarray(0, NAME.byteLength - 1));
  if (r.read === s.length) {
    NAME[r.written] = 0;
    return NAME;
  }
  return Buffer.from(s + "\0");
}

/** lstat of `name` relative to the open directory `dirfd`; false when it cannot be read. */
export function statAt(dirfd: number, name: string): boolean {
  return libc.symbols.statx(dirfd, cName(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX) === 0;
}

/** lstat of a host path. */
export function statHost(path: string): boolean {
  return statAt(AT_FDCWD, path);
}

/** Opens a directory for statAt; -1 when it cannot be opened. */
export function openDir(path: string): number {
  return libc.symbols.open(cName(path), O_DIRECTORY | O_CLOEXEC);
}

export function closeDir(fd: number): void {
  libc.symbols.close(fd);
}
