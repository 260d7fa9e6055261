// The tar format itself, byte for byte: ustar headers, PAX extended records (written only when a
// field does not fit ustar, or for xattrs), GNU long names and sparse maps (read only).
// Our own code rather than a library's so xattr values survive as raw bytes in both directions
// and the bytes we write are fully determined by the entry.
import { LayerFormatError } from "./errors.ts";
import { relativeName, type EntryType, type TarHeader } from "./header.ts";

export const BLOCK = 512;
const enc = new TextEncoder();
const dec = new TextDecoder();
const NONE = new Uint8Array(0);

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30, link: 0x31, symlink: 0x32, "character-device": 0x33, "block-device": 0x34, directory: 0x35, fifo: 0x36,
};

export const XATTR_PREFIX = "SCHILY.xattr.";

/** Zero bytes needed after `size` bytes of body to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

// Writes `value` as `width - 1` octal digits and a NUL; false (and nothing written) when it does not fit.
// Digit by digit: a layer of 100,000 small files writes 700,000 of these fields.
function putOctal(buf: Uint8Array, off: number, width: number, value: number): boolean {
  let v = Math.floor(value);
  if (value < 0 || v >= 8 ** (width - 1)) return false;
  for (let i = off + width - 2; i >= off; i--) {
    buf[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  buf[off + width - 1] = 0;
  return true;
}

function putString(buf: Uint8Array, off: number, width: number, bytes: Uint8Array): boolean {
  if (bytes.byteLength > width) return false;
  buf.set(bytes, off);
  return true;
}

// Splits a long name into ustar's prefix (155) and name (100) at a "/".
function splitUstar(name: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (name.byteLength <= 100) return { prefix: NONE, name };
  if (name.byteLength > 256) return undefined;
  for (let i = name.byteLength - 101; i < name.byteLength; i++) {
    if (i > 0 && name[i] === 0x2f && i <= 155 && name.byteLength - i - 1 <= 100 && name.byteLength - i - 1 > 0) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return undefined;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = new Uint8Array([...enc.encode(` ${key}=`), ...value, 0x0a]);
  let len = body.byteLength + 1;
  while (String(len).length + body.byteLength !== len) len = String(len).length + body.byteLength;
  return new Uint8Array([...enc.encode(String(len)), ...body]);
}

const MAGIC = enc.encode("ustar\x0000");

function ustarBlock(f: {
  name: Uint8Array; prefix: Uint8Array; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: number; linkname: Uint8Array; devmajor: number; devminor: number;
}, into?: Uint8Array): Uint8Array {
  const b = into ? into.fill(0) : new Uint8Array(BLOCK);
  putString(b, 0, 100, f.name);
  putOctal(b, 100, 8, f.mode);
  putOctal(b, 108, 8, f.uid);
  putOctal(b, 116, 8, f.gid);
  putOctal(b, 124, 12, f.size);
  putOctal(b, 136, 12, f.mtime);
  b[156] = f.typeflag;
  putString(b, 157, 100, f.linkname);
  b.set(MAGIC, 257);
  putOctal(b, 329, 8, f.devmajor);
  putOctal(b, 337, 8, f.devminor);
  putString(b, 345, 155, f.prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  putOctal(b, 148, 7, sum); // six digits and a NUL; the space after them stays
  return b;
}

const USTAR_MAX_ID = 0o7777777;
const USTAR_MAX_SIZE = 0o77777777777;

/**
 * The header blocks for one entry: a PAX header (when needed) and the ustar block. Directories
 * end in "/", names are relative, user and group names are empty, mtimes whole seconds.
 * With `scratch` (one block), a header without PAX records is written there and returned: for a
 * caller that copies it at once, one buffer serves every header.
 */
export function encodeHeader(h: TarHeader, scratch?: Uint8Array): Uint8Array {
  let nameStr = relativeName(h.name);
  if (h.type === "directory" && !nameStr.endsWith("/")) nameStr += "/";
  const name = enc.encode(nameStr);
  const linkStr = h.linkname === undefined ? "" : h.type === "link" ? relativeName(h.linkname) : h.linkname;
  const linkname = linkStr === "" ? NONE : enc.encode(linkStr);
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  const mtime = Math.floor(h.mtime.getTime() / 1000);
  const records: Uint8Array[] = [];
  const split = splitUstar(name);
  if (!split) records.push(paxRecord("path", name));
  if (linkname.byteLength > 100) records.push(paxRecord("linkpath", linkname));
  if (h.uid > USTAR_MAX_ID) records.push(paxRecord("uid", enc.encode(String(h.uid))));
  if (h.gid > USTAR_MAX_ID) records.push(paxRecord("gid", enc.encode(String(h.gid))));
  if (size > USTAR_MAX_SIZE) records.push(paxRecord("size", enc.encode(String(size))));
  if (mtime < 0 || mtime > USTAR_MAX_SIZE) records.push(paxRecord("mtime", enc.encode(String(mtime))));
  if (h.pax) for (const [k, v] of Object.entries(h.pax).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) records.push(paxRecord(k, enc.encode(v)));
  if (h.xattrs) for (const k of Object.keys(h.xattrs).sort()) records.push(paxRecord(XATTR_PREFIX + k, h.xattrs![k]));
  const main = ustarBlock({
    name: split ? split.name : name.subarray(0, 100),
    prefix: split ? split.prefix : NONE,
    mode: (h.mode & 0o7777) | 0, uid: h.uid > USTAR_MAX_ID ? 0 : h.uid, gid: h.gid > USTAR_MAX_ID ? 0 : h.gid,
    size: size > USTAR_MAX_SIZE ? 0 : size, mtime: mtime < 0 || mtime > USTAR_MAX_SIZE ? 0 : mtime,
    typeflag: TYPEFLAG[h.type], linkname: linkname.subarray(0, 100), devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0,
  }, records.length === 0 ? scratch : undefined);
  if (records.length === 0) return main;
  const paxBody = new Uint8Array(records.reduce((n, r) => n + r.byteLength, 0));
  let off = 0;
  for (const r of records) { paxBody.set(r, off); off += r.byteLength; }
  const paxHead = ustarBlock({
    name: enc.encode("PaxHeader"), prefix: new Uint8Array(0), mode: 0o644, uid: 0, gid: 0, size: paxBody.byteLength,
    mtime: Math.max(0, Math.min(mtime, USTAR_MAX_SIZE)), typeflag: 0x78, linkname: new Uint8Array(0), devmajor: 0, devminor: 0,
  });
  const out = new Uint8Array(BLOCK + paxBody.byteLength + padding(paxBody.byteLength) + BLOCK);
  out.set(paxHead, 0);
  out.set(paxBody, BLOCK);
  out.set(main, out.byteLength - BLOCK);
  return out;
}

// ---- reading ----

/** One raw header block, decoded. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** GNU old-style sparse: (offset, length) pairs in the header, more in extension blocks when `extended`. */
  sparse?: { map: [number, number][]; extended: boolean; realSize: number };
}

function cstring(b: Uint8Array): Uint8Array {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

/** Reads a numeric field: octal text (spaces and NULs around it) or GNU base-256. */
export function readNumber(b: Uint8Array, where: string): number {
  if (b.byteLength > 0 && (b[0] & 0x80) !== 0) {
    let v = b[0] & 0x3f;
    if ((b[0] & 0x40) !== 0) throw new LayerFormatError(`negative base-256 number in ${where}`);
    for (let i = 1; i < b.byteLength; i++) v = v * 256 + b[i];
    return v;
  }
  const s = dec.decode(cstring(b)).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new LayerFormatError(`bad number "${s}" in ${where}`);
  return parseInt(s, 8);
}

/** True for the all-zero block that ends an archive. */
export function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < b.byteLength; i++) if (b[i] !== 0) return false;
  return true;
}

export function decodeHeader(b: Uint8Array): RawHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
  const stored = readNumber(b.subarray(148, 156), "header checksum");
  // Some old writers summed signed bytes; accept that too.
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) signed += i >= 148 && i < 156 ? 0x20 : (b[i] << 24) >> 24;
  if (stored !== sum && stored !== signed) throw new LayerFormatError("tar header checksum mismatch");
  const magic = dec.decode(b.subarray(257, 263));
  const isUstar = magic === "ustar\0";
  const isGnu = magic === "ustar ";
  const rawName = cstring(b.subarray(0, 100));
  const prefix = isUstar ? cstring(b.subarray(345, 500)) : new Uint8Array(0);
  const name = prefix.byteLength ? `${dec.decode(prefix)}/${dec.decode(rawName)}` : dec.decode(rawName);
  const typeflag = b[156] === 0 ? "0" : String.fromCharCode(b[156]);
  const h: RawHeader = {
    name,
    mode: readNumber(b.subarray(100, 108), `mode of "${name}"`),
    uid: readNumber(b.subarray(108, 116), `uid of "${name}"`),
    gid: readNumber(b.subarray(116, 124), `gid of "${name}"`),
    size: readNumber(b.subarray(124, 136), `size of "${name}"`),
    mtime: readNumber(b.subarray(136, 148), `mtime of "${name}"`),
    typeflag,
    linkname: dec.decode(cstring(b.subarray(157, 257))),
    devmajor: isUstar || isGnu ? readNumber(b.subarray(329, 337), `devmajor of "${name}"`) : 0,
    devminor: isUstar || isGnu ? readNumber(b.subarray(337, 345), `devminor of "${name}"`) : 0,
  };
  if (typeflag === "S" && isGnu) {
    h.sparse = { map: readSparseMap(b, 386, 4, name), extended: b[482] !== 0, realSize: readNumber(b.subarray(483, 495), `sparse size of "${name}"`) };
  }
  return h;
}

/** (offset, length) pairs stored 12+12 bytes each from `off`; an empty offset field ends the list. */
export function readSparseMap(b: Uint8Array, off: number, count: number, name: string): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const at = off + i * 24;
    if (b[at] === 0) break;
    out.push([readNumber(b.subarray(at, at + 12), `sparse map of "${name}"`), readNumber(b.subarray(at + 12, at + 24), `sparse map of "${name}"`)]);
  }
  return out;
}

/** PAX records; values stay bytes (xattrs are binary). */
export function decodePax(b: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let off = 0;
  while (off < b.byteLength) {
    if (b[off] === 0) break; // padding
    const sp = b.indexOf(0x20, off);
    if (sp < 0) throw new LayerFormatError("PAX record without a length");
    const len = Number(dec.decode(b.subarray(off, sp)));
    if (!Number.isInteger(len) || len <= sp - off || off + len > b.byteLength) throw new LayerFormatError("PAX record with a bad length");
    const rec = b.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new LayerFormatError("PAX record without '='");
    out.set(dec.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

export const paxString = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : dec.decode(v));
