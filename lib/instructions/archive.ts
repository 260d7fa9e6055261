// ADD's local archive rule: a file whose content (not name) is a tar, plain or compressed with gzip, bzip2, xz or
// zstd, is unpacked into the destination directory; anything else, a compressed non-tar file included, is copied
// as it is. Entries keep the archive's modes, owners and mtimes (--chown/--chmod override them) and can never
// land outside the build root.
import { createReadStream, lchownSync, lstatSync, linkSync, lutimesSync, mkdirSync, openSync, readSync, closeSync, rmSync, symlinkSync, chmodSync, createWriteStream, utimesSync } from "node:fs";
import { dirname, posix } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import unbzip2 from "unbzip2-stream";
import { XzReadableStream } from "xz-decompress";
import type { ModeFn } from "./chmod.ts";
import type { Ownership } from "./copy-files.ts";
import { hostPath, rootPath } from "./paths.ts";
import { readTarEntries, setXattr, type TarReadEntry } from "../rootfs/mod.ts";

type Codec = "gzip" | "bzip2" | "xz" | "zstd" | "none";

function codecOf(head: Buffer): Codec {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.subarray(0, 3).toString("latin1") === "BZh") return "bzip2";
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return "zstd";
  return "none";
}

function decompressed(path: string, codec: Codec): Readable {
  const raw = createReadStream(path);
  switch (codec) {
    case "gzip": return raw.pipe(zlib.createGunzip());
    case "zstd": return raw.pipe(zlib.createZstdDecompress());
    case "bzip2": {
      // unbzip2-stream is a classic (pre-streams3) stream; Readable.wrap() of it closes early under Bun, a PassThrough does not.
      const t = unbzip2();
      const out = new PassThrough();
      t.on("error", (e: Error) => out.destroy(e));
      raw.pipe(t as unknown as NodeJS.WritableStream);
      (t as unknown as NodeJS.ReadableStream).pipe(out);
      return out;
    }
    case "xz": return Readable.fromWeb(new XzReadableStream(Readable.toWeb(raw) as ReadableStream<Uint8Array>) as any);
    case "none": return raw;
  }
}

/** A tar header block: its checksum (unsigned sum with the checksum field as spaces) must match. */
function isTarHeader(b: Buffer): boolean {
  if (b.length < 512 || b.subarray(0, 512).every((x) => x === 0)) return false;
  const stored = parseInt(b.subarray(148, 156).toString("latin1").replace(/[\0 ]+$/, "").trim(), 8);
  if (Number.isNaN(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
  return sum === stored;
}

async function firstBytes(s: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const c of s) {
      parts.push(Buffer.from(c));
      have += c.length;
      if (have >= n) break;
    }
  } catch { /* a corrupt stream is simply not an archive */ }
  s.destroy();
  return Buffer.concat(parts);
}

/** The codec when `path` holds a tar archive, else undefined. */
export async function archiveCodec(path: string): Promise<Codec | undefined> {
  const fd = openSync(path, "r");
  const head = Buffer.alloc(512);
  const n = readSync(fd, head, 0, 512, 0);
  closeSync(fd);
  const codec = codecOf(head.subarray(0, n));
  const block = codec === "none" ? head.subarray(0, n) : await firstBytes(decompressed(path, codec), 512);
  return isTarHeader(block) ? codec : undefined;
}

export interface ExtractOptions { owner?: Ownership; mode?: ModeFn }

/** An entry of an ADD archive that cannot be unpacked; `entry` is its name in the archive. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
  constructor(readonly entry: string, problem: string, cause?: unknown) {
    super(`entry "${entry}": ${problem}`, { cause });
  }
}

// A file system error without the host path of the build root (the user knows the entry and the destination).
function fsProblem(err: NodeJS.ErrnoException): string {
  return err.code && err.syscall ? `${err.syscall}: ${err.code}` : err.message;
}

/** Unpacks the archive into `destDir` (absolute, in-root); returns the in-root paths written. */
export async function extractArchive(root: string, archive: string, codec: Codec, destDir: string, opts: ExtractOptions): Promise<string[]> {
  const written: string[] = [];
  const dirTimes: { p: string; mtime: Date }[] = [];
  for await (const entry of readTarEntries(decompressed(archive, codec))) {
    try {
      const host = await extractEntry(root, entry, destDir, opts, dirTimes);
      if (host !== undefined) written.push(rootPath(root, host));
    } catch (err) {
      // A full disk is not the entry's fault: it keeps its code, for the CLI's disk-full line.
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof ArchiveError || code === "ENOSPC" || code === "EDQUOT") throw err;
      throw new ArchiveError(entry.header.name, fsProblem(err as NodeJS.ErrnoException), err);
    }
  }
  // Directory times last: writing their entries changed them.
  for (const { p, mtime } of dirTimes.reverse()) utimesSync(p, mtime, mtime);
  return written;
}

/** Writes one entry; returns its host path, or undefined when it was skipped. */
async function extractEntry(root: string, entry: TarReadEntry, destDir: string, opts: ExtractOptions, dirTimes: { p: string; mtime: Date }[]): Promise<string | undefined> {
  const h = entry.header;
  const name = posix.normalize("/" + h.name).replace(/\/$/, "");
  if (name === "/" || name === "") {
    return undefined; // the archive's own root entry does not replace the destination's metadata
  }
  const host = hostPath(root, posix.join(destDir, name), false);
  mkdirSync(dirname(host), { recursive: true });
  const uid = opts.owner?.uid ?? h.uid ?? 0;
  const gid = opts.owner?.gid ?? h.gid ?? 0;
  const bits = (h.mode ?? 0o644) & 0o7777;
  const existing = lstatSync(host, { throwIfNoEntry: false });
  if (h.type === "directory") {
    if (existing && !existing.isDirectory()) rmSync(host, { force: true });
    if (!existing?.isDirectory()) mkdirSync(host);
    chmodSync(host, opts.mode ? opts.mode(bits, true) : bits);
    lchownSync(host, uid, gid);
    dirTimes.push({ p: host, mtime: h.mtime });
  } else if (h.type === "file") {
    if (existing) rmSync(host, { recursive: true, force: true });
    await pipeline(Readable.from(entry.body), createWriteStream(host));
    lchownSync(host, uid, gid);
    chmodSync(host, opts.mode ? opts.mode(bits, false) : bits);
    utimesSync(host, h.mtime, h.mtime);
  } else if (h.type === "symlink") {
    if (existing) rmSync(host, { recursive: true, force: true });
    symlinkSync(h.linkname ?? "", host);
    lchownSync(host, uid, gid);
    lutimesSync(host, h.mtime, h.mtime);
  } else if (h.type === "link") {
    // Docker's and BuildKit's untar: the target, absolute or not, names an entry under the destination.
    const target = posix.join(destDir, posix.normalize("/" + (h.linkname ?? "")));
    const src = hostPath(root, target, false);
    const st = lstatSync(src, { throwIfNoEntry: false });
    if (!st || st.isDirectory()) {
      throw new ArchiveError(h.name, `hardlink to "${h.linkname}": ${target} ${st ? "is a directory" : "does not exist (hardlink targets are resolved under the destination, and must come earlier in the archive)"}`);
    }
    if (existing) rmSync(host, { recursive: true, force: true });
    linkSync(src, host);
  } else {
    // (an unread body is skipped by the reader) devices and FIFOs need privileges a build should not assume; BuildKit skips them too when it cannot
    return undefined;
  }
  // After chown and chmod, which drop security.capability.
  for (const [attr, value] of Object.entries(h.xattrs ?? {})) setXattr(host, attr, value);
  return host;
}
