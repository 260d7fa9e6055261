// Decompression on a worker thread, so the thread applying a layer only parses and writes (as
// `tar -xzf` leaves gunzip to a second process). The worker is shipped as source text so the
// compiled binary needs no extra entry point; it uses node:zlib like the in-thread path.
import type { Compression } from "./compression.ts";

function workerMain(): void {
  // Not require(): a bundler would rewrite it, and this function runs from its source text.
  const zlib = (globalThis as any).process.getBuiltinModule("node:zlib") as typeof import("node:zlib");
  const fs = (globalThis as any).process.getBuiltinModule("node:fs") as typeof import("node:fs");
  let inflater: import("node:stream").Transform | undefined;
  // The diffID is hashed here too: sha256 of the tar is the reading thread's largest cost after
  // inflating, and that thread is the one creating files.
  const hash = new (globalThis as any).Bun.CryptoHasher("sha256");
  // And, when asked, the blob's own digest and size, for a stream the registry client did not check.
  let blobHash: { update(c: Uint8Array): void; digest(enc: string): string } | undefined;
  let blobSize = 0;
  const input = (c: Uint8Array) => {
    if (blobHash) {
      blobHash.update(c);
      blobSize += c.byteLength;
    }
  };
  const post = (m: unknown, t?: ArrayBuffer[]) => (globalThis as any).postMessage(m, t ?? []);
  // A blob in a file is read here, so its bytes never pass through the thread creating files.
  // Flow control: reading pauses while the reader has maxQueued inflated chunks not yet consumed,
  // or while the inflater's input buffer is full.
  let outstanding = 0;
  let limit = 0;
  let draining = false;
  let file: import("node:fs").ReadStream | undefined;
  let fileRead = 0;
  const resume = () => { if (file && !draining && outstanding < limit) file.resume(); };
  const consumed = () => { outstanding--; resume(); };
  const readFile = (path: string, maxQueued: number) => {
    limit = maxQueued;
    inflater!.on("data", () => { if (++outstanding >= limit) file!.pause(); });
    file = fs.createReadStream(path, { highWaterMark: 1 << 20 });
    file.on("data", (c) => {
      input(c as Uint8Array);
      fileRead += (c as Uint8Array).byteLength;
      if (!inflater!.write(c)) {
        draining = true;
        file!.pause();
        inflater!.once("drain", () => { draining = false; resume(); });
      }
    });
    file.on("end", () => inflater!.end());
    file.on("error", (e: Error) => post({ error: e.message }));
  };
  (globalThis as any).onmessage = (ev: MessageEvent) => {
    const m = ev.data;
    if (m.start) {
      if (m.hashBlob) blobHash = new (globalThis as any).Bun.CryptoHasher("sha256");
      inflater = m.start === "gzip" ? zlib.createGunzip({ chunkSize: 256 * 1024 }) : zlib.createZstdDecompress({ chunkSize: 256 * 1024 } as any);
      inflater.on("data", (c: Uint8Array) => {
        hash.update(c);
        const copy = new Uint8Array(c.byteLength);
        copy.set(c);
        // Bytes of the file read since the last message: the reading thread's progress counter.
        post({ data: copy, read: fileRead }, [copy.buffer]);
        fileRead = 0;
      });
      inflater.on("end", () => post({
        end: true, digest: `sha256:${hash.digest("hex")}`, read: fileRead,
        ...(blobHash ? { blob: { digest: `sha256:${blobHash.digest("hex")}`, size: blobSize } } : {}),
      }));
      inflater.on("error", (e: Error) => post({ error: e.message }));
      if (m.file) readFile(m.file, m.maxQueued);
    } else if (m.consumed) {
      consumed();
    } else if (m.chunk) {
      // Credit-based flow: the main thread sends more only after this acknowledgement.
      // The buffer goes back once the inflater has consumed it, to be filled again.
      const bytes = m.length === m.chunk.byteLength ? m.chunk : m.chunk.subarray(0, m.length);
      input(bytes);
      inflater!.write(bytes, () => post({ ack: true, buf: m.chunk }, [m.chunk.buffer]));
    } else if (m.end) {
      inflater!.end();
    }
  };
}

const SOURCE = `(${workerMain.toString()})()`;
const BATCH = 1 << 20;
let url: string | undefined;

/** What the worker hashed: the inflated bytes (a layer's diffID) and, when asked, the blob itself. */
export interface InflateDigests {
  tar: string;
  blob?: { digest: string; size: number };
}

export interface InflateOptions {
  /** Also hash the compressed input (the blob's digest and size). */
  hashBlob?: boolean;
  window?: number;
  maxQueued?: number;
  /** Bytes the worker read from the file so far, as they are read (for progress). */
  onFileBytes?: (n: number) => void;
}

/**
 * Decompressed chunks of `chunks` (or of a file, which the worker then reads itself, so its bytes
 * never pass through this thread), inflated on a worker thread; `digest` receives the sha256 of
 * all of them (and of the input, with hashBlob) once the stream has ended. Memory stays bounded:
 * at most `window` compressed chunks in flight and, while `maxQueued` inflated chunks wait for the
 * reader, nothing more is sent (or read from the file).
 */
export async function* inflateOnWorker(
  compression: Exclude<Compression, "none">, chunks: AsyncIterable<Uint8Array> | { file: string }, digest: (d: InflateDigests) => void,
  opts: InflateOptions = {},
): AsyncGenerator<Uint8Array> {
  const { hashBlob = false, window = 4, maxQueued = 16, onFileBytes } = opts;
  url ??= URL.createObjectURL(new Blob([SOURCE], { type: "application/javascript" }));
  const w = new Worker(url);
  const file = "file" in chunks ? chunks.file : undefined;
  const out: Uint8Array[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let wakeFeeder: (() => void) | undefined;
  let inFlight = 0;
  let recycle: (b: Uint8Array) => void = () => {};
  const notify = () => {
    const f = wake; wake = undefined; f?.();
    const g = wakeFeeder; wakeFeeder = undefined; g?.();
  };
  w.onmessage = (ev: MessageEvent) => {
    const m = ev.data;
    if (m.read) onFileBytes?.(m.read);
    if (m.data) out.push(m.data);
    else if (m.ack) {
      inFlight--;
      recycle(m.buf);
    } else if (m.end) {
      ended = true;
      digest({ tar: m.digest, ...(m.blob ? { blob: m.blob } : {}) });
    } else if (m.error) failure = new Error(m.error);
    notify();
  };
  w.onerror = (ev) => { failure = new Error((ev as ErrorEvent).message); notify(); };
  const wait = () => new Promise<void>((r) => { wake = r; });
  try {
    w.postMessage({ start: compression, hashBlob, ...(file !== undefined ? { file, maxQueued } : {}) });
    let feedError: unknown;
    if (file === undefined) {
      const feeder = (async () => {
        // Few large messages: each postMessage has a fixed cost, and streams yield small chunks. The
        // batch buffers come back with the worker's acknowledgement and are filled again: fresh
        // memory for every megabyte cost more in page faults than the copy itself.
        const free: Uint8Array<ArrayBuffer>[] = [];
        let cur: Uint8Array<ArrayBuffer> | undefined;
        let fill = 0;
        recycle = (b) => free.push(b as Uint8Array<ArrayBuffer>);
        const send = async () => {
          while ((inFlight >= window || out.length >= maxQueued) && !failure) await new Promise<void>((r) => { wakeFeeder = r; });
          if (failure || fill === 0) return;
          const buf = cur!;
          const length = fill;
          cur = undefined;
          fill = 0;
          inFlight++;
          w.postMessage({ chunk: buf, length }, [buf.buffer]);
        };
        for await (const c of chunks as AsyncIterable<Uint8Array>) {
          for (let off = 0; off < c.byteLength;) {
            cur ??= free.pop() ?? new Uint8Array(BATCH);
            const k = Math.min(c.byteLength - off, BATCH - fill);
            cur.set(k === c.byteLength ? c : c.subarray(off, off + k), fill);
            fill += k;
            off += k;
            if (fill === BATCH) await send();
            if (failure) return;
          }
        }
        await send();
        w.postMessage({ end: true });
      })();
      feeder.catch((e) => { feedError = e; failure ??= e as Error; notify(); });
    }
    for (;;) {
      while (out.length > 0) {
        const c = out.shift()!;
        // The worker reading a file pauses on unacknowledged chunks; a fed worker waits for the feeder.
        if (file !== undefined) w.postMessage({ consumed: true });
        const g = wakeFeeder; wakeFeeder = undefined; g?.();
        yield c;
      }
      if (failure) throw feedError ?? failure;
      if (ended) return;
      await wait();
    }
  } finally {
    w.terminate();
  }
}
