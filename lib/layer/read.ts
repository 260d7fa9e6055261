// Reads a layer blob: sniffs its compression, decompresses, hashes the tar (diffID) and yields
// entries one at a time. A body not consumed by the caller is skipped before the next entry.
import { Readable } from "node:stream";
import { detectCompression, SNIFF_BYTES, type Compression } from "./compression.ts";
import { inflateOnWorker, type InflateDigests } from "./inflate-worker.ts";
import { LayerFormatError } from "./errors.ts";
import { Sha256Counter } from "./hash.ts";
import type { EntryType, ReadHeader } from "./header.ts";
import { BLOCK, decodeHeader, decodePax, isZeroBlock, padding, paxString, readSparseMap, XATTR_PREFIX, type RawHeader } from "./tar-format.ts";

export interface ReadEntry {
  header: ReadHeader;
  /** The file's bytes (empty for non-files). Read it before asking for the next entry, or it is skipped. */
  body: AsyncIterable<Uint8Array>;
}

/** A stream of blob bytes, or a blob in a file (which the inflating worker then reads itself). */
export type BlobSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | { file: string };

// Reads enough leading bytes to sniff the compression, then replays them ahead of the rest.
// `counted` receives the byte count of each chunk read here (a compressed file is read, and counted, by the worker).
async function sniff(source: BlobSource, counted: (n: number) => void): Promise<{ compression: Compression; chunks: AsyncIterable<Uint8Array> | { file: string } }> {
  if ("file" in source) {
    const head = await Bun.file(source.file).slice(0, SNIFF_BYTES).bytes();
    const compression = detectCompression(head);
    return { compression, chunks: compression === "none" ? fileChunks(source.file, counted) : source };
  }
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
    for (const h of head) {
      counted(h.byteLength);
      yield h;
    }
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      counted(r.value.byteLength);
      yield r.value;
    }
  }
  return { compression, chunks: replay() };
}

async function* fileChunks(path: string, counted: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const c of Bun.file(path).stream() as unknown as AsyncIterable<Uint8Array>) {
    counted(c.byteLength);
    yield c;
  }
}

interface Hashing { update(chunk: Uint8Array): void }
const NOT_HASHED: Hashing = { update() {} };

/** Pulls exact byte counts out of a chunk stream, hashing every byte once as it arrives. */
class ByteQueue {
  #it: AsyncIterator<Uint8Array>;
  #cur: Uint8Array = new Uint8Array(0);
  #off = 0;
  #hash: Hashing;
  constructor(chunks: AsyncIterable<Uint8Array>, hash: Hashing) {
    this.#it = chunks[Symbol.asyncIterator]();
    this.#hash = hash;
  }
  async #fill(): Promise<boolean> {
    while (this.#off >= this.#cur.byteLength) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.#it.next();
      } catch (err) {
        // The decompressor's error (truncated or corrupt stream) reaches whoever is reading: header or body.
        throw err instanceof LayerFormatError ? err : new LayerFormatError("reading the layer's compressed stream", err);
      }
      if (r.done) return false;
      const c = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBuffer);
      this.#hash.update(c);
      this.#cur = c;
      this.#off = 0;
    }
    return true;
  }
  /** Up to `max` bytes (a view of a chunk the decompressor does not reuse), or undefined at the end. */
  async some(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    const n = Math.min(max, this.#cur.byteLength - this.#off);
    const out = this.#cur.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }
  /** Exactly n bytes (copied), or undefined when the stream ends before the first byte. */
  async exact(n: number, what: string): Promise<Uint8Array | undefined> {
    const first = await this.some(n);
    if (first === undefined) return undefined;
    if (first.byteLength === n) return first.slice();
    const out = new Uint8Array(n);
    out.set(first);
    let have = first.byteLength;
    while (have < n) {
      const c = await this.some(n - have);
      if (c === undefined) throw new LayerFormatError(`truncated tar: ${what} ends early`);
      out.set(c, have);
      have += c.byteLength;
    }
    return out;
  }
  async skip(n: number, what: string): Promise<void> {
    while (n > 0) {
      const c = await this.some(n);
      if (c === undefined) throw new LayerFormatError(`truncated tar: ${what} ends early`);
      n -= c.byteLength;
    }
  }
  /** Reads (and hashes) whatever follows the end-of-archive blocks. */
  async drain(): Promise<void> {
    while ((await this.some(1 << 20)) !== undefined);
  }
}

const TYPES: Record<string, EntryType> = {
  "0": "file", "7": "file", "1": "link", "2": "symlink", "3": "character-device", "4": "block-device", "5": "directory", "6": "fifo",
};
const ZEROS = new Uint8Array(1 << 16);

// A file body of `stored` bytes in the archive; sparse files expand to their full size with holes as zeros.
class EntryBody implements AsyncIterable<Uint8Array> {
  #left: number;
  #used = false;
  constructor(private readonly q: ByteQueue, stored: number, private readonly name: string, private readonly sparse?: { map: [number, number][]; realSize: number }) {
    this.#left = stored;
  }
  async *#plain(n: number): AsyncGenerator<Uint8Array> {
    while (n > 0) {
      const c = await this.q.some(Math.min(n, this.#left));
      if (c === undefined) throw new LayerFormatError(`truncated tar: body of "${this.name}" ends early`);
      this.#left -= c.byteLength;
      n -= c.byteLength;
      yield c; // a view of the decompressor's chunk, which is never written again: no copy needed
    }
  }
  async *#expand(): AsyncGenerator<Uint8Array> {
    const { map, realSize } = this.sparse!;
    let pos = 0;
    for (const [off, len] of map) {
      if (off < pos || off + len > realSize) throw new LayerFormatError(`sparse map of "${this.name}" is out of order or past its size`);
      yield* zeros(off - pos);
      yield* this.#plain(len);
      pos = off + len;
    }
    yield* zeros(realSize - pos);
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#used) throw new Error(`body of "${this.name}" can be read once`);
    this.#used = true;
    return this.sparse ? this.#expand() : this.#plain(this.#left);
  }
  /** Skips what the caller did not read, and the block padding. */
  async finish(stored: number): Promise<void> {
    await this.q.skip(this.#left + padding(stored), `body of "${this.name}"`);
    this.#left = 0;
  }
}

function* zeros(n: number): Generator<Uint8Array> {
  while (n > 0) {
    const k = Math.min(n, ZEROS.byteLength);
    yield ZEROS.subarray(0, k);
    n -= k;
  }
}

const EMPTY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

/** An open layer: iterate it for entries; after iteration ends, `diffID` holds the sha256 of the tar. */
export class LayerReader implements AsyncIterable<ReadEntry> {
  #source: BlobSource;
  #diffID: string | undefined;
  #blob: { digest: string; size: number } | undefined;
  #compression: Compression | undefined;
  #used = false;
  readonly #hashBlob: boolean;
  readonly #onBytes: (n: number) => void;

  constructor(source: BlobSource, opts: ReadLayerOptions = {}) {
    this.#source = source;
    this.#hashBlob = opts.hashBlob ?? false;
    this.#onBytes = opts.onBytes ?? (() => {});
  }

  /** With hashBlob: the sha256 and size of the blob as read (compressed); known once every entry has been read. */
  get blob(): { digest: string; size: number } {
    if (this.#blob === undefined) throw new Error("LayerReader.blob read before the layer was fully iterated, or without hashBlob");
    return this.#blob;
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
    const onBytes = this.#onBytes;
    const { compression, chunks } = await sniff(this.#source, onBytes);
    this.#compression = compression;
    const hash = new Sha256Counter();
    let inflated: InflateDigests | undefined;
    // Inflating (and hashing what comes out) on a worker lets decompression and extraction use two
    // cores, as tar -xzf does.
    const decompressed = compression === "none"
      ? Readable.from(chunks as AsyncIterable<Uint8Array>)
      : Readable.from(inflateOnWorker(compression, chunks, (d) => { inflated = d; }, { hashBlob: this.#hashBlob, onFileBytes: onBytes }));
    const q = new ByteQueue(decompressed as AsyncIterable<Uint8Array>, compression === "none" ? hash : NOT_HASHED);
    try {
      yield* this.#entries(q);
      await q.drain();
    } catch (err) {
      if (err instanceof LayerFormatError) throw err;
      throw new LayerFormatError(`reading ${compression} layer`, err);
    } finally {
      // Also when the consumer stops early (its own write failed: a full disk): the inflate worker would
      // otherwise wait for a reader forever and keep the process alive.
      decompressed.destroy();
    }
    const diffID = compression === "none" ? hash.digest() : inflated?.tar;
    if (diffID === undefined) throw new LayerFormatError(`reading ${compression} layer`, new Error("the decompressor ended without a digest"));
    this.#diffID = diffID;
    // An uncompressed blob is the tar itself.
    if (this.#hashBlob) this.#blob = compression === "none" ? { digest: diffID, size: hash.size } : inflated?.blob;
  }

  async *#entries(q: ByteQueue): AsyncGenerator<ReadEntry> {
    let global = new Map<string, Uint8Array>();
    let pax: Map<string, Uint8Array> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await q.exact(BLOCK, "header");
      if (block === undefined || isZeroBlock(block)) return; // a missing end marker is tolerated, as GNU tar does
      const raw = decodeHeader(block);
      const meta = async () => {
        const b = await q.exact(raw.size, `extended header of "${raw.name}"`) ?? new Uint8Array(0);
        await q.skip(padding(raw.size), "extended header padding");
        return b;
      };
      switch (raw.typeflag) {
        case "x": pax = decodePax(await meta()); continue;
        case "g": global = new Map([...global, ...decodePax(await meta())]); continue;
        case "L": longName = cstr(await meta()); continue;
        case "K": longLink = cstr(await meta()); continue;
      }
      const records = new Map([...global, ...(pax ?? [])]);
      pax = undefined;
      const h = toReadHeader(raw, records, longName, longLink);
      longName = longLink = undefined;
      let sparse: { map: [number, number][]; realSize: number } | undefined;
      if (raw.sparse) {
        const map = [...raw.sparse.map];
        for (let ext = raw.sparse.extended; ext;) {
          const b = await q.exact(BLOCK, `sparse map of "${h.name}"`);
          if (!b) throw new LayerFormatError(`truncated tar: sparse map of "${h.name}" ends early`);
          map.push(...readSparseMap(b, 0, 21, h.name));
          ext = b[504] !== 0;
        }
        sparse = { map, realSize: raw.sparse.realSize };
      }
      let stored = raw.size;
      if (records.has("size")) stored = Number(paxString(records.get("size")));
      const paxSparse = await readPaxSparse(q, records, h.name);
      if (paxSparse) {
        sparse = paxSparse.sparse;
        stored -= paxSparse.consumed;
      }
      if (sparse) h.size = sparse.realSize;
      const hasBody = h.type === "file" || h.type === "other";
      const body = new EntryBody(q, hasBody ? stored : 0, h.name, sparse);
      if (!hasBody) h.size = 0;
      yield { header: h, body: hasBody && h.type === "file" ? body : EMPTY };
      // Links, directories, devices and FIFOs carry no data whatever their size field says (as Go's reader).
      await body.finish(hasBody ? stored : 0);
    }
  }
}

const cstr = (b: Uint8Array) => new TextDecoder().decode(b.indexOf(0) < 0 ? b : b.subarray(0, b.indexOf(0)));

function toReadHeader(raw: RawHeader, pax: Map<string, Uint8Array>, longName?: string, longLink?: string): ReadHeader {
  const s = (k: string) => paxString(pax.get(k));
  const num = (k: string, d: number) => {
    const v = s(k);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : d;
  };
  const sparseName = s("GNU.sparse.name");
  const name = sparseName ?? s("path") ?? longName ?? raw.name;
  const linkname = s("linkpath") ?? longLink ?? raw.linkname;
  const mt = s("mtime");
  const mtime = mt !== undefined && !Number.isNaN(Number(mt)) ? new Date(Math.floor(Number(mt) * 1000)) : new Date(raw.mtime * 1000);
  const xattrs: Record<string, Uint8Array> = {};
  const text: Record<string, string> = {};
  for (const [k, v] of pax) {
    if (k.startsWith(XATTR_PREFIX)) xattrs[k.slice(XATTR_PREFIX.length)] = v;
    else text[k] = paxString(v)!;
  }
  const type: EntryType | "other" = raw.typeflag === "S" ? "file" : TYPES[raw.typeflag] ?? "other";
  return {
    name, type, mode: raw.mode & 0o7777, uid: num("uid", raw.uid), gid: num("gid", raw.gid), size: raw.size, mtime,
    ...(linkname ? { linkname } : {}),
    ...(raw.devmajor ? { devmajor: raw.devmajor } : {}),
    ...(raw.devminor ? { devminor: raw.devminor } : {}),
    ...(Object.keys(xattrs).length ? { xattrs } : {}),
    ...(Object.keys(text).length ? { pax: text } : {}),
  };
}

// PAX sparse formats 0.1 (map in GNU.sparse.map) and 1.0 (map at the start of the data, block-padded).
async function readPaxSparse(q: ByteQueue, pax: Map<string, Uint8Array>, name: string): Promise<{ sparse: { map: [number, number][]; realSize: number }; consumed: number } | undefined> {
  const s = (k: string) => paxString(pax.get(k));
  const realSize = Number(s("GNU.sparse.realsize") ?? s("GNU.sparse.size"));
  if (s("GNU.sparse.major") === "1" && s("GNU.sparse.minor") === "0") {
    const nums: number[] = [];
    let consumed = 0;
    let line = "";
    let count = -1;
    while (count < 0 || nums.length < 2 * count) {
      const b = await q.exact(BLOCK, `sparse map of "${name}"`);
      if (!b) throw new LayerFormatError(`truncated tar: sparse map of "${name}" ends early`);
      consumed += BLOCK;
      for (const ch of new TextDecoder().decode(b)) {
        if (ch !== "\n") { line += ch; continue; }
        const v = Number(line);
        line = "";
        if (!Number.isInteger(v)) throw new LayerFormatError(`bad sparse map in "${name}"`);
        if (count < 0) count = v;
        else if (nums.length < 2 * count) nums.push(v);
        if (count >= 0 && nums.length === 2 * count) break;
      }
    }
    const map: [number, number][] = [];
    for (let i = 0; i < nums.length; i += 2) map.push([nums[i], nums[i + 1]]);
    return { sparse: { map, realSize }, consumed };
  }
  const m = s("GNU.sparse.map");
  if (m !== undefined) {
    const nums = m.split(",").filter(Boolean).map(Number);
    const map: [number, number][] = [];
    for (let i = 0; i + 1 < nums.length; i += 2) map.push([nums[i], nums[i + 1]]);
    return { sparse: { map, realSize }, consumed: 0 };
  }
  return undefined;
}

export interface ReadLayerOptions {
  /** Also hash the blob as read (on the inflate worker), for a source nobody has checked yet. */
  hashBlob?: boolean;
  /** Receives the count of each run of blob (compressed) bytes as they are read: progress. */
  onBytes?: (n: number) => void;
}

/** Opens a blob (as a layer's open() gives it) for reading entries. */
export function readLayer(source: BlobSource, opts: ReadLayerOptions = {}): LayerReader {
  return new LayerReader(source, opts);
}
