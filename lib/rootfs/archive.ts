// ADD's local archive rule: a file whose content (not name) is a tar, plain or compressed with gzip, bzip2, xz or
// zstd, is unpacked into the destination directory; anything else, a compressed non-tar file included, is copied
// as it is. The entries are applied by apply.ts under ADD's rules (UntarRules): they keep the archive's modes,
// owners and mtimes (--chown/--chmod override them) and can never land outside the build root.
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { PassThrough, Readable } from "node:stream";
import zlib from "node:zlib";
import { LayerFormatError, readLayer, type ReadEntry } from "../layer/mod.ts";
import type { Logger } from "../log/mod.ts";
import { applyEntries, type UntarRules } from "./apply.ts";
import { ArchiveError } from "./errors.ts";
import { layerPath } from "./paths.ts";

export type ArchiveCodec = "gzip" | "bzip2" | "xz" | "zstd" | "none";

function codecOf(head: Buffer): ArchiveCodec {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.subarray(0, 3).toString("latin1") === "BZh") return "bzip2";
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return "zstd";
  return "none";
}

function decompressed(path: string, codec: ArchiveCodec): Readable {
  const raw = createReadStream(path);
  switch (codec) {
    case "gzip": return raw.pipe(zlib.createGunzip());
    case "zstd": return raw.pipe(zlib.createZstdDecompress());
    case "bzip2": {
      // unbzip2-stream is a classic (pre-streams3) stream; Readable.wrap() of it closes early under Bun, a PassThrough does not.
      // Loaded when used: evaluating the decompressors at start-up cost every kiln process time (BENCHMARKS.md, issue 13).
      const t = (require("unbzip2-stream") as typeof import("unbzip2-stream"))();
      const out = new PassThrough();
      t.on("error", (e: Error) => out.destroy(e));
      raw.pipe(t as unknown as NodeJS.WritableStream);
      (t as unknown as NodeJS.ReadableStream).pipe(out);
      return out;
    }
    case "xz": return Readable.fromWeb(new (require("xz-decompress") as typeof import("xz-decompress")).XzReadableStream(Readable.toWeb(raw) as ReadableStream<Uint8Array>) as any);
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
export async function archiveCodec(path: string): Promise<ArchiveCodec | undefined> {
  const fd = openSync(path, "r");
  const head = Buffer.alloc(512);
  const n = readSync(fd, head, 0, 512, 0);
  closeSync(fd);
  const codec = codecOf(head.subarray(0, n));
  const block = codec === "none" ? head.subarray(0, n) : await firstBytes(decompressed(path, codec), 512);
  return isTarHeader(block) ? codec : undefined;
}

export interface ExtractOptions extends Omit<UntarRules, "dest"> {
  logger: Logger;
}

/**
 * Unpacks the archive into `destDir` (a directory inside the root, which exists); returns the root paths written.
 * An entry that cannot be unpacked is an ArchiveError; a full disk keeps its code.
 */
export async function extractArchive(root: string, archive: string, codec: ArchiveCodec, destDir: string, opts: ExtractOptions): Promise<string[]> {
  return extractEntries(root, readLayer(decompressed(archive, codec)), destDir, opts);
}

/** extractArchive for entries already read (a build context streamed from elsewhere), with the same rules and errors. */
export async function extractEntries(root: string, entries: AsyncIterable<ReadEntry>, destDir: string, opts: ExtractOptions): Promise<string[]> {
  const written = new Set<string>();
  const { logger, ...rules } = opts;
  try {
    await applyEntries(root, entries, { logger, ignorePaths: [], touched: written, untar: { ...rules, dest: layerPath(destDir) } });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof ArchiveError || code === "ENOSPC" || code === "EDQUOT") throw e;
    // The archive as a whole: cut off or not a valid tar (the reader's words), or a directory's deferred metadata.
    throw new ArchiveError(undefined, e instanceof LayerFormatError ? `not a valid tar archive: ${e.what}` : (e as Error).message, e);
  }
  return [...written];
}
