// Our view of a tar header, independent of tar-stream's loose typing, and the rules for
// names we write (no leading "/", directories end with "/", no user or group names).
import type { Header } from "tar-stream";

type PackHeader = Partial<Header> & { name: string; pax?: Record<string, string> };

export type EntryType = "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";

export interface TarHeader {
  /** Path inside the layer; a leading "/" or "./" is accepted and stripped on write. */
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Body size for files; ignored for other types. */
  size?: number;
  mtime: Date;
  /** Symlink target (as stored) or hardlink target (a layer path). */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (e.g. `SCHILY.xattr.<name>`), passed through as is. */
  pax?: Record<string, string>;
}

/** Header of an entry read from a layer; `type` is "other" for kinds we do not handle (sockets, GNU sparse ...). */
export interface ReadHeader extends Omit<TarHeader, "type"> {
  type: EntryType | "other";
  size: number;
}

// Largest value that fits the 7 octal digits of a ustar uid/gid field.
const USTAR_MAX_ID = 0o7777777;

/** Strips leading "/" and "./" so names are relative, as the OCI layer spec wants. */
export function relativeName(name: string): string {
  let n = name;
  for (;;) {
    if (n.startsWith("/")) n = n.slice(1);
    else if (n.startsWith("./")) n = n.slice(2);
    else break;
  }
  return n === "." ? "" : n;
}

const TYPE_BITS: Record<EntryType, number> = {
  file: 0o100000, directory: 0o040000, symlink: 0o120000, link: 0o100000,
  "character-device": 0o020000, "block-device": 0o060000, fifo: 0o010000,
};

/** Builds the tar-stream header for writing. */
export function toPackHeader(h: TarHeader): PackHeader {
  let name = relativeName(h.name);
  if (h.type === "directory" && !name.endsWith("/")) name += "/";
  const pax: Record<string, string> = { ...h.pax };
  let uid = h.uid;
  let gid = h.gid;
  // Large ids do not fit ustar; PAX carries them and the ustar field holds 0.
  if (uid > USTAR_MAX_ID) { pax.uid = String(uid); uid = 0; }
  if (gid > USTAR_MAX_ID) { pax.gid = String(gid); gid = 0; }
  const linkname = h.type === "link" && h.linkname !== undefined ? relativeName(h.linkname) : h.linkname;
  return {
    name,
    type: h.type,
    // The type bits keep mode 0 truthy: tar-stream would turn a 0 mode into 0644/0755.
    // Only the low 12 bits are encoded.
    mode: (h.mode & 0o7777) | TYPE_BITS[h.type],
    uid,
    gid,
    size: h.type === "file" ? (h.size ?? 0) : 0,
    mtime: h.mtime,
    ...(linkname !== undefined ? { linkname } : {}),
    uname: "",
    gname: "",
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    ...(Object.keys(pax).length ? { pax } : {}),
  };
}

const KNOWN: ReadonlySet<string> = new Set(["file", "directory", "symlink", "link", "character-device", "block-device", "fifo"]);

/** Converts a header tar-stream decoded, honouring PAX uid/gid/mtime it leaves raw. */
export function fromExtractHeader(h: Header): ReadHeader {
  const pax = (h.pax ?? undefined) as Record<string, string> | undefined;
  const rawType: string = h.type === "contiguous-file" ? "file" : h.type ?? "other";
  const type = KNOWN.has(rawType) ? (rawType as EntryType) : "other";
  const num = (v: string | undefined, d: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : d);
  const mtime = pax?.mtime !== undefined && !Number.isNaN(Number(pax.mtime))
    ? new Date(Number(pax.mtime) * 1000)
    : h.mtime ?? new Date(0);
  return {
    name: h.name,
    type,
    mode: (h.mode ?? 0) & 0o7777,
    uid: num(pax?.uid, h.uid ?? 0),
    gid: num(pax?.gid, h.gid ?? 0),
    size: h.size ?? 0,
    mtime,
    ...(h.linkname ? { linkname: h.linkname } : {}),
    ...(h.devmajor ? { devmajor: h.devmajor } : {}),
    ...(h.devminor ? { devminor: h.devminor } : {}),
    ...(pax ? { pax } : {}),
  };
}
