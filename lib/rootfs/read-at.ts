// Small files read for a layer through libc, relative to an open descriptor of their directory.
// A layer of 100,000 small files was six system calls per file, three of them with a full path
// walk in the kernel (llistxattr, open, and readFileSync's read-until-EOF pair); here it is
// openat(dirfd) + flistxattr + one read + close, and the parent's descriptor is reused while the
// sorted names stay in one directory.
import { dlopen, FFIType } from "bun:ffi";
import { O_CLOEXEC, O_DIRECTORY, O_NOATIME, O_NOFOLLOW } from "./open-flags.ts";

const libc = dlopen("libc.so.6", {
  openat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  flistxattr: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

const AT_FDCWD = -100;
const O_RDONLY_CLOEXEC_NOFOLLOW = O_CLOEXEC | O_NOFOLLOW;
const encoder = new TextEncoder();

/** What readSmall found: the bytes (a fresh copy) and whether the file has extended attributes. */
export interface SmallFile {
  bytes: Uint8Array;
  hasXattrs: boolean;
}

/**
 * Reads files of known size one directory at a time. Holds one directory descriptor: call
 * close() when done. Any failure (vanished, replaced by a link, grown or shrunk since the walk)
 * gives undefined, and the caller falls back to the path-based reader, which reports it.
 */
export class SmallFileReader {
  #dir = "";
  #dirfd = -1;
  #name = new Uint8Array(4096);
  #buf = new Uint8Array(64 * 1024);
  // Reading a file a RUN has just written would update its atime (relatime): an inode write per
  // file. Allowed to the owner and to root; where refused, files are opened without it.
  #noatime = O_NOATIME;

  // A NUL-terminated copy of s in the reused name buffer (grown for very long names).
  #cName(s: string): Uint8Array {
    if (s.length * 3 + 1 > this.#name.byteLength) this.#name = new Uint8Array(s.length * 3 + 1);
    const { written } = encoder.encodeInto(s, this.#name);
    this.#name[written] = 0;
    return this.#name;
  }

  #enter(dir: string): boolean {
    if (dir === this.#dir && this.#dirfd >= 0) return true;
    this.close();
    this.#dirfd = libc.symbols.openat(AT_FDCWD, this.#cName(dir), O_RDONLY_CLOEXEC_NOFOLLOW | O_DIRECTORY);
    this.#dir = dir;
    return this.#dirfd >= 0;
  }

  /** The content of `dir`/`name` when it is exactly `size` bytes long. */
  read(dir: string, name: string, size: number): SmallFile | undefined {
    if (!this.#enter(dir)) return undefined;
    let fd = libc.symbols.openat(this.#dirfd, this.#cName(name), O_RDONLY_CLOEXEC_NOFOLLOW | this.#noatime);
    if (fd < 0 && this.#noatime !== 0) {
      fd = libc.symbols.openat(this.#dirfd, this.#cName(name), O_RDONLY_CLOEXEC_NOFOLLOW);
      if (fd >= 0) this.#noatime = 0; // EPERM: not ours to open that way
    }
    if (fd < 0) return undefined;
    try {
      // One byte more than expected: a short read is end of file, a full one means the file grew.
      if (this.#buf.byteLength < size + 1) this.#buf = new Uint8Array(size + 1);
      const n = Number(libc.symbols.read(fd, this.#buf, size + 1));
      if (n !== size) return undefined;
      // Length of the attribute name list; non-zero (or an error) sends the caller to getXattrs.
      const list = Number(libc.symbols.flistxattr(fd, null, 0));
      return { bytes: this.#buf.slice(0, n), hasXattrs: list !== 0 };
    } finally {
      libc.symbols.close(fd);
    }
  }

  close(): void {
    if (this.#dirfd >= 0) libc.symbols.close(this.#dirfd);
    this.#dirfd = -1;
    this.#dir = "";
  }
}
