// Extended attributes through libc (Node and Bun have no xattr calls). The `l` variants act on a
// symlink itself, never on what it points to, so a planted link cannot redirect them.
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  lsetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  lgetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  llistxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const ERANGE = 34;
const ENODATA = 61;
const ENOTSUP = 95;

export class XattrError extends Error {
  override name = "XattrError";
  constructor(call: string, path: string, readonly errno: number) {
    super(`${call} on ${path}: ${String(libc.symbols.strerror(errno))}`);
  }
}

const cstr = (s: string) => Buffer.from(s + "\0");
const errno = () => read.i32(libc.symbols.__errno_location()!, 0);
// A non-null pointer for zero-length values (ptr() refuses empty buffers).
const ONE = new Uint8Array(1);

/** Sets one attribute on the path itself (not a symlink's target). */
export function setXattr(path: string, name: string, value: Uint8Array): void {
  const buf = value.byteLength ? value : ONE;
  if (libc.symbols.lsetxattr(cstr(path), cstr(name), ptr(buf), value.byteLength, 0) !== 0) throw new XattrError(`setxattr ${name}`, path, errno());
}

const NONE: Record<string, Uint8Array> = Object.freeze({}) as Record<string, Uint8Array>;
// Reused for the common case (no attributes): a snapshot asks once per file it writes.
const PATH_BUF = new Uint8Array(8192);
const LIST_BUF = new Uint8Array(4096);
const encoder = new TextEncoder();

/** All attributes of the path itself, name -> raw value; an empty (frozen) object where there are none. */
export function getXattrs(path: string): Record<string, Uint8Array> {
  const { written } = encoder.encodeInto(path, PATH_BUF.subarray(0, PATH_BUF.byteLength - 1));
  if (written !== undefined && written < PATH_BUF.byteLength - 1 && written === Buffer.byteLength(path)) {
    PATH_BUF[written] = 0;
    const n = Number(libc.symbols.llistxattr(PATH_BUF, ptr(LIST_BUF), LIST_BUF.byteLength));
    if (n === 0) return NONE;
    if (n < 0 && errno() === ENOTSUP) return NONE;
  }
  return readAll(path);
}

function readAll(path: string): Record<string, Uint8Array> {
  const p = cstr(path);
  let size = 256;
  let names: string[] = [];
  for (;;) {
    const buf = new Uint8Array(size);
    const n = Number(libc.symbols.llistxattr(p, ptr(buf), size));
    if (n >= 0) {
      if (n === 0) return NONE;
      names = new TextDecoder().decode(buf.subarray(0, n - 1)).split("\0");
      break;
    }
    const e = errno();
    if (e === ENOTSUP) return NONE;
    if (e !== ERANGE) throw new XattrError("listxattr", path, e);
    size *= 4;
  }
  const out: Record<string, Uint8Array> = {};
  for (const name of names) {
    let vsize = 256;
    for (;;) {
      const buf = new Uint8Array(vsize);
      const n = Number(libc.symbols.lgetxattr(p, cstr(name), ptr(buf), vsize));
      if (n >= 0) { out[name] = buf.slice(0, n); break; }
      const e = errno();
      if (e === ENODATA) break; // removed meanwhile
      if (e !== ERANGE) throw new XattrError(`getxattr ${name}`, path, e);
      vsize *= 4;
    }
  }
  return out;
}
