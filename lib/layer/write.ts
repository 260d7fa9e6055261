// Writes a layer in one pass: entries -> tar -> sha256 (diffID) -> compressor -> sha256 (digest)
// -> temp file. Nothing holds more than a stream buffer, whatever the layer size.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { createCompressor, type Compression } from "./compression.ts";
import { Sha256Counter } from "./hash.ts";
import { toPackHeader, type TarHeader } from "./header.ts";

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

function tap(counter: Sha256Counter): Transform {
  return new Transform({
    transform(chunk: Uint8Array, _enc, cb) {
      counter.update(chunk);
      cb(null, chunk);
    },
  });
}

// Writes one entry into the pack, honouring backpressure from the pack's reader.
function addEntry(pack: tar.Pack, entry: TarEntry): Promise<void> {
  const header = toPackHeader(entry.header);
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (header.type !== "file") {
      pack.entry(header, done);
      return;
    }
    const body = entry.body ?? new Uint8Array(0);
    if (body instanceof Uint8Array) {
      header.size = body.byteLength;
      pack.entry(header, Buffer.from(body.buffer, body.byteOffset, body.byteLength), done);
      return;
    }
    const sink = pack.entry(header, done);
    // Failures reach us through `done`; without a listener the same error would also go unhandled.
    sink.on("error", () => {});
    (async () => {
      for await (const chunk of body) {
        if (!sink.write(chunk)) await new Promise<void>((r) => sink.once("drain", () => r(undefined)));
      }
      sink.end(undefined);
    })().catch((err) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

async function fill(pack: tar.Pack, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<void> {
  try {
    for await (const e of entries) await addEntry(pack, e);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
}

/** Streams entries into a compressed layer blob in `opts.dir`. On failure the partial file is removed. */
export async function writeLayer(
  entries: AsyncIterable<TarEntry> | Iterable<TarEntry>,
  opts: WriteLayerOptions,
): Promise<LayerBlob> {
  const path = join(opts.dir, `layer-${randomBytes(8).toString("hex")}.tmp`);
  const tarHash = new Sha256Counter();
  const blobHash = new Sha256Counter();
  const pack = tar.pack();
  const compressor = createCompressor(opts.compression, opts.level);
  try {
    await Promise.all([
      fill(pack, entries),
      pipeline(Readable.from(pack), tap(tarHash), compressor, tap(blobHash), createWriteStream(path)),
    ]);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { path, digest: blobHash.digest(), diffID: tarHash.digest(), size: blobHash.size, compression: opts.compression };
}
