// Writes a layer in one pass: entries -> tar -> sha256 (diffID) -> block compressor (worker
// threads) -> sha256 (digest) -> temp file. Nothing holds more than a few blocks, whatever the layer size.
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_LEVEL, type Compression } from "./compression.ts";
import { compressBlocks } from "./compress-pool.ts";
import { LayerWriteError, UnsupportedCompressionError } from "./errors.ts";
import { Sha256Counter } from "./hash.ts";
import type { TarHeader } from "./header.ts";
import { BLOCK, encodeHeader, padding } from "./tar-format.ts";

/**
 * File bodies: bytes, or a (lazy) stream of chunks opened only when the entry is written.
 * Chunks are hashed and compressed after they are yielded: a producer must not reuse their memory.
 */
export type Body = Uint8Array | AsyncIterable<Uint8Array>;

export interface TarEntry {
  header: TarHeader;
  /** Only for "file" entries; its length must equal header.size. */
  body?: Body;
}

export interface WriteLayerOptions {
  /** Directory for the blob file (same filesystem as its final home, so a rename is cheap). */
  dir: string;
  compression: Compression;
  level?: number;
  /** Receives the byte count of each tar chunk as it is made (before compression): progress. */
  onTarBytes?: (n: number) => void;
}

/** A written blob: where it is and its digests, as plain values (lib/image wraps them into Layers). */
export interface LayerBlob {
  path: string;
  /** sha256 of the compressed blob. */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffID: string;
  /** Size of the compressed blob in bytes. */
  size: number;
  compression: Compression;
}

const BATCH = 256 * 1024;

export interface TarStreamOptions {
  /**
   * The consumer is done with a chunk once it asks for the next one (it copies or writes it at
   * once), so batch buffers go round instead of a new 256 KiB buffer per batch: a layer of 100,000
   * small files otherwise leaves 100 MB of buffers for the GC.
   */
  reuseChunks?: boolean;
}

/**
 * The tar bytes of `entries`. Headers and small bodies are gathered into large chunks, so a layer
 * of 100,000 small files is not 300,000 stream writes; large body chunks pass through as they are.
 */
export async function* tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, opts: TarStreamOptions = {}): AsyncGenerator<Uint8Array> {
  // Chunks ready to go out; filled by the plain functions below, emptied after each entry or body chunk
  // (a generator per write cost more than the writes for 100,000 small files).
  const ready: Uint8Array[] = [];
  const header = new Uint8Array(BLOCK); // put() copies it
  // Batches are zero-filled when handed out: padding is a skip.
  const spare: Uint8Array[] = [];
  const full: Uint8Array[] = [];
  let buf: Uint8Array = new Uint8Array(BATCH);
  let used = 0;
  const flush = () => {
    if (used === 0) return;
    ready.push(buf.subarray(0, used));
    full.push(buf);
    buf = spare.pop() ?? new Uint8Array(BATCH);
    used = 0;
  };
  const put = (bytes: Uint8Array) => {
    if (bytes.byteLength >= BATCH / 4) { flush(); ready.push(bytes); return; }
    if (used + bytes.byteLength > BATCH) flush();
    buf.set(bytes, used);
    used += bytes.byteLength;
  };
  const zeros = (n: number) => {
    if (used + n > BATCH) flush();
    used += n;
  };
  // After the consumer has asked past them, the batches just yielded may be used again.
  const recycle = () => {
    ready.length = 0;
    for (const b of full) if (opts.reuseChunks) spare.push(b.fill(0));
    full.length = 0;
  };
  for await (const e of entries) {
    const h = e.header;
    const body = h.type === "file" ? (e.body ?? EMPTY) : undefined;
    const size = body instanceof Uint8Array ? body.byteLength : h.type === "file" ? (h.size ?? 0) : 0;
    put(encodeHeader(h.type !== "file" || h.size === size ? h : { ...h, size }, header));
    let written = 0;
    if (body instanceof Uint8Array) {
      put(body);
      written = body.byteLength;
    } else if (body !== undefined) {
      for await (const chunk of body) {
        written += chunk.byteLength;
        if (written > size) break;
        put(chunk);
        if (ready.length > 0) { yield* ready; recycle(); }
      }
    }
    if (written !== size) throw new LayerWriteError(h.name, `its body has ${written > size ? "more than" : "only"} ${written} bytes but the header says ${size}`);
    zeros(padding(size));
    if (ready.length > 0) { yield* ready; recycle(); }
  }
  zeros(2 * BLOCK);
  flush();
  yield* ready;
}

const EMPTY = new Uint8Array(0);

/** The chunks of `chunks`, hashed on the way past (the diffID is the sha256 of the uncompressed tar). */
async function* hashed(chunks: AsyncIterable<Uint8Array>, counter: Sha256Counter, counted?: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    counter.update(c);
    counted?.(c.byteLength);
    yield c;
  }
}

/**
 * Streams entries into a compressed layer blob in `opts.dir`: the tar is hashed as it is made,
 * compressed in blocks on worker threads, and the blocks are hashed and written in order.
 * On failure the partial file is removed.
 */
export async function writeLayer(
  entries: AsyncIterable<TarEntry> | Iterable<TarEntry>,
  opts: WriteLayerOptions,
): Promise<LayerBlob> {
  const path = join(opts.dir, `layer-${randomBytes(8).toString("hex")}.tmp`);
  const tarHash = new Sha256Counter();
  const blobHash = new Sha256Counter();
  if (opts.compression === "zstd" && typeof (Bun as { zstdCompressSync?: unknown }).zstdCompressSync !== "function") throw new UnsupportedCompressionError("zstd");
  // Each chunk is hashed, then copied into a compression block or written, before the next is asked for.
  const tar = hashed(tarStream(entries, { reuseChunks: true }), tarHash, opts.onTarBytes);
  const blocks = opts.compression === "none" ? tar : compressBlocks(tar, { codec: opts.compression, level: opts.level ?? DEFAULT_LEVEL });
  const fd = openSync(path, "wx");
  try {
    // Synchronous writes: they land in the page cache in microseconds, less than a promise round trip per block costs.
    for await (const b of blocks) {
      blobHash.update(b);
      for (let off = 0; off < b.byteLength;) off += writeSync(fd, b, off, b.byteLength - off);
    }
    closeSync(fd);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    await rm(path, { force: true });
    throw err;
  }
  return { path, digest: blobHash.digest(), diffID: tarHash.digest(), size: blobHash.size, compression: opts.compression };
}
