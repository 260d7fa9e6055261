// Reads a layer blob: sniffs its compression, decompresses, hashes the tar (diffID) and yields
// entries one at a time. A body not consumed by the caller is drained before the next entry.
import { Readable } from "node:stream";
import tar from "tar-stream";
import { createDecompressor, detectCompression, SNIFF_BYTES, type Compression } from "./compression.ts";
import { LayerFormatError } from "./errors.ts";
import { Sha256Counter } from "./hash.ts";
import { fromExtractHeader, type ReadHeader } from "./header.ts";

export interface ReadEntry {
  header: ReadHeader;
  /** The file's bytes (empty for non-files). Read it before asking for the next entry, or it is skipped. */
  body: AsyncIterable<Uint8Array>;
}

export type BlobSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

// Reads enough leading bytes to sniff the compression, then replays them ahead of the rest.
async function sniff(source: BlobSource): Promise<{ compression: Compression; chunks: AsyncIterable<Uint8Array> }> {
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  while (have < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    have += r.value.byteLength;
  }
  const compression = detectCompression(Buffer.concat(head));
  async function* replay() {
    yield* head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { compression, chunks: replay() };
}

interface EntrySource extends AsyncIterable<unknown> {
  header: tar.Header;
}

// Wraps an entry stream so a caller breaking out of its loop does not destroy the stream
// (tar-stream would then destroy the whole extract), and so the rest can be drained.
class EntryBody implements AsyncIterable<Uint8Array> {
  #it: AsyncIterator<unknown>;
  #done = false;
  #wrap: (err: unknown) => Error;
  constructor(src: EntrySource, wrap: (err: unknown) => Error) {
    this.#it = src[Symbol.asyncIterator]();
    this.#wrap = wrap;
  }
  async #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#done) return { done: true, value: undefined };
    let r: IteratorResult<unknown>;
    try {
      r = await this.#it.next();
    } catch (err) {
      throw this.#wrap(err);
    }
    if (r.done) this.#done = true;
    return r as IteratorResult<Uint8Array>;
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.#next(), return: async () => ({ done: true, value: undefined }) };
  }
  async drain(): Promise<void> {
    while (!(await this.#next()).done);
  }
}

/** An open layer: iterate it for entries; after iteration ends, `diffID` holds the sha256 of the tar. */
export class LayerReader implements AsyncIterable<ReadEntry> {
  #source: BlobSource;
  #diffID: string | undefined;
  #compression: Compression | undefined;
  #used = false;

  constructor(source: BlobSource) {
    this.#source = source;
  }

  /** The sha256 of the uncompressed tar; known only once every entry has been read. */
  get diffID(): string {
    if (this.#diffID === undefined) throw new Error("LayerReader.diffID read before the layer was fully iterated: iterate all entries first");
    return this.#diffID;
  }

  /** Compression found by sniffing; known once iteration has started. */
  get compression(): Compression | undefined {
    return this.#compression;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ReadEntry> {
    if (this.#used) throw new Error("LayerReader can be iterated once: open the layer again");
    this.#used = true;
    const { compression, chunks } = await sniff(this.#source);
    this.#compression = compression;
    const hash = new Sha256Counter();
    const extract = tar.extract();
    const decompressed = Readable.from(chunks).pipe(createDecompressor(compression));
    let pumpError: unknown;
    // The decompressor's own error says more than the extractor's "destroyed".
    const wrap = (err: unknown) => err instanceof LayerFormatError ? err : new LayerFormatError(`reading ${compression} layer`, pumpError ?? err);
    // Feeds the extractor with backpressure; the loop below pulls entries out of it.
    const pump = (async () => {
      try {
        for await (const chunk of decompressed as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          if (!extract.write(chunk)) await new Promise<void>((r) => extract.once("drain", () => r(undefined)));
        }
        extract.end(undefined);
      } catch (err) {
        pumpError = err;
        extract.destroy(err as Error);
      }
    })();
    try {
      for await (const entry of extract as AsyncIterable<EntrySource>) {
        const body = new EntryBody(entry, wrap);
        yield { header: fromExtractHeader(entry.header), body };
        await body.drain();
      }
    } catch (err) {
      throw wrap(err);
    }
    await pump;
    if (pumpError) throw new LayerFormatError(`reading ${compression} layer`, pumpError);
    this.#diffID = hash.digest();
  }
}

/** Opens a blob (as a layer's open() gives it) for reading entries. */
export function readLayer(source: BlobSource): LayerReader {
  return new LayerReader(source);
}
