// The few libc calls a RUN needs that neither Node nor Bun expose: setgroups, prctl, execve, and unshare plus an
// ioctl for an in-place RUN --network=none.
// They run only in the short-lived helper process, never in the builder itself.
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  chdir: { args: [FFIType.cstring], returns: FFIType.i32 },
  setgroups: { args: [FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  setgid: { args: [FFIType.u32], returns: FFIType.i32 },
  setuid: { args: [FFIType.u32], returns: FFIType.i32 },
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  execve: { args: [FFIType.cstring, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  utimensat: { args: [FFIType.i32, FFIType.cstring, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  unshare: { args: [FFIType.i32], returns: FFIType.i32 },
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  __errno_location: { args: [], returns: FFIType.ptr },
});

export class SyscallError extends Error {
  constructor(public readonly call: string, public readonly errno: number) {
    super(`${call}: ${String(libc.symbols.strerror(errno))}`);
    this.name = "SyscallError";
  }
}

const cstr = (s: string) => Buffer.from(s + "\0");

function check(call: string, rc: number): void {
  if (rc !== 0) throw new SyscallError(call, read.i32(libc.symbols.__errno_location()!, 0));
}

export function chdir(dir: string): void { check(`chdir ${dir}`, libc.symbols.chdir(cstr(dir))); }

/** PR_SET_PDEATHSIG: this process gets `signal` when its parent dies (kept across execve, cleared by a user switch). */
export function setParentDeathSignal(signal: number): void {
  const PR_SET_PDEATHSIG = 1;
  check("prctl(PR_SET_PDEATHSIG)", libc.symbols.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0));
}

/** Switches to uid/gid with exactly these supplementary groups (order matters: groups and gid before uid). */
export function switchUser(uid: number, gid: number, groups: number[]): void {
  // An empty list means no supplementary groups at all, as runc does for USER uid:gid (the buffer only needs to exist).
  const list = new Uint32Array(groups.length ? groups : [0]);
  check("setgroups", libc.symbols.setgroups(groups.length, ptr(list)));
  check(`setgid ${gid}`, libc.symbols.setgid(gid));
  check(`setuid ${uid}`, libc.symbols.setuid(uid));
}

/**
 * Sets a path's atime and mtime to the nanosecond (Node's utimes rounds to microseconds, which a snapshot
 * comparing stat records would see as a change). Symlinks themselves are not followed.
 */
export function setTimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
  const ts = new BigInt64Array([atimeNs / 1_000_000_000n, atimeNs % 1_000_000_000n, mtimeNs / 1_000_000_000n, mtimeNs % 1_000_000_000n]);
  check(`utimensat ${path}`, libc.symbols.utimensat(AT_FDCWD, cstr(path), ptr(ts), AT_SYMLINK_NOFOLLOW));
}

/**
 * Moves this thread into a new network namespace and brings its loopback up, as BuildKit's "none" has it. The
 * namespace belongs to the calling thread: the execve that follows must come from the same (JS main) thread.
 */
export function unshareNetwork(): void {
  const CLONE_NEWNET = 0x40000000, AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
  const SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914, IFF_UP = 0x1, IFF_RUNNING = 0x40;
  check("unshare(CLONE_NEWNET)", libc.symbols.unshare(CLONE_NEWNET));
  const fd = libc.symbols.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) check("socket", -1);
  try {
    // struct ifreq: the name in 16 bytes, then ifr_flags (a short) at offset 16 of the union.
    const ifr = new Uint8Array(40);
    ifr.set(Buffer.from("lo"));
    check("ioctl(SIOCGIFFLAGS lo)", libc.symbols.ioctl(fd, SIOCGIFFLAGS, ptr(ifr)));
    const view = new DataView(ifr.buffer);
    view.setUint16(16, view.getUint16(16, true) | IFF_UP | IFF_RUNNING, true);
    check("ioctl(SIOCSIFFLAGS lo)", libc.symbols.ioctl(fd, SIOCSIFFLAGS, ptr(ifr)));
  } finally {
    libc.symbols.close(fd);
  }
}

/** Replaces this process; returns only by throwing. */
export function execve(file: string, argv: string[], env: string[]): never {
  const keep: Buffer[] = [];
  const array = (strs: string[]) => {
    const arr = new BigUint64Array(strs.length + 1);
    strs.forEach((s, i) => { const b = cstr(s); keep.push(b); arr[i] = BigInt(ptr(b)); });
    return arr;
  };
  const a = array(argv);
  const e = array(env);
  libc.symbols.execve(cstr(file), ptr(a), ptr(e));
  throw new SyscallError(`exec ${file}`, read.i32(libc.symbols.__errno_location()!, 0));
}
