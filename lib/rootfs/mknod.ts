// Device nodes and FIFOs through libc's mknod(2): the executor image is FROM scratch, so there is no
// `mknod` binary to run, and a process per node would cost more than the system call anyway.
import { dlopen, FFIType, read } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  mknod: { args: [FFIType.cstring, FFIType.u32, FFIType.u64], returns: FFIType.i32 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export type NodeKind = "character-device" | "block-device" | "fifo";

export class MknodError extends Error {
  override name = "MknodError";
  constructor(path: string, readonly errno: number) {
    super(`mknod ${path}: ${String(libc.symbols.strerror(errno))}`);
  }
}

// glibc's makedev: the 64-bit dev_t splits major and minor into low and high parts.
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0), mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** Creates a device node or FIFO at `path` with permission bits 0600 (the caller sets the real mode and owner). */
export function mknod(path: string, kind: NodeKind, major = 0, minor = 0): void {
  const type = kind === "fifo" ? S_IFIFO : kind === "block-device" ? S_IFBLK : S_IFCHR;
  const dev = kind === "fifo" ? 0n : makedev(major, minor);
  if (libc.symbols.mknod(Buffer.from(path + "\0"), type | 0o600, dev) !== 0) {
    throw new MknodError(path, read.i32(libc.symbols.__errno_location()!, 0));
  }
}
