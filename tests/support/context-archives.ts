// Context archives for tests, hostile ones included: a raw ustar writer that keeps names exactly as given
// (kiln's own tar writer strips a leading "/", so it cannot make an absolute entry).
import { gzipSync } from "node:zlib";

export interface RawEntry {
  name: string;
  /** "file" (default), "dir", "symlink" */
  type?: "file" | "dir" | "symlink";
  body?: string;
  linkname?: string;
}

function header(e: RawEntry, size: number): Uint8Array {
  const b = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => b.write(s, off, len, "utf8");
  const oct = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, "0") + "\0", off, len);
  put(e.name, 0, 100);
  oct(e.type === "dir" ? 0o755 : 0o644, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(1_700_000_000, 136, 12);
  put("        ", 148, 8);
  put(e.type === "dir" ? "5" : e.type === "symlink" ? "2" : "0", 156, 1);
  if (e.linkname) put(e.linkname, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const x of b) sum += x;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return b;
}

/** A plain tar of `entries`, names kept byte for byte. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.type === undefined || e.type === "file" ? e.body ?? "" : "");
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A gzip'd tar of `entries`. */
export function rawTarGz(entries: RawEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

/** A gzip'd tar of files (relative path -> content): an honest context. */
export function contextTarGz(files: Record<string, string>): Buffer {
  return rawTarGz(Object.entries(files).map(([name, body]) => ({ name, body })));
}

/** The hostile and broken archives every archive source must refuse, with what the refusal says. */
export function badArchives(): { what: string; bytes: Buffer; error: RegExp }[] {
  const ok = contextTarGz({ Dockerfile: "FROM scratch\nCOPY a /a\n", a: "a".repeat(4000) });
  return [
    { what: "an entry climbing out with ..", bytes: rawTarGz([{ name: "Dockerfile", body: "FROM scratch\n" }, { name: "../escaped", body: "x" }]), error: /entry "\.\.\/escaped" climbs out/ },
    { what: "an absolute entry", bytes: rawTarGz([{ name: "/tmp/kiln-absolute-entry", body: "x" }]), error: /entry "\/tmp\/kiln-absolute-entry" is an absolute path/ },
    { what: "a write through a symlink it made", bytes: rawTarGz([{ name: "link", type: "symlink", linkname: "/tmp" }, { name: "link/kiln-through-symlink", body: "x" }]), error: /entry "link\/kiln-through-symlink" lies below "link", a symlink/ },
    { what: "not a gzip or tar", bytes: Buffer.from("this is not an archive at all, just text\n".repeat(20)), error: /not a valid tar archive/ },
    { what: "a truncated gzip", bytes: ok.subarray(0, Math.floor(ok.length / 2)), error: /not a valid tar archive/ },
  ];
}
