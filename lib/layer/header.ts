// Our view of a tar header and the rules for names we write (no leading "/", directories end
// with "/", no user or group names).

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
  /** Extended attributes, name -> raw value; written as PAX `SCHILY.xattr.<name>` records byte for byte. */
  xattrs?: Record<string, Uint8Array>;
  /** Other PAX records (text), passed through as is. */
  pax?: Record<string, string>;
}

/** Header of an entry read from a layer; `type` is "other" for kinds we do not handle (sockets, ...). */
export interface ReadHeader extends Omit<TarHeader, "type"> {
  type: EntryType | "other";
  /** For files: the size of the file (for sparse files, its full size including holes). */
  size: number;
}

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
