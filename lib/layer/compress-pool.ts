// Parallel block compression. The tar stream is cut into fixed-size blocks, each block is
// compressed on a worker thread into a complete gzip member or zstd frame, and the outputs are
// yielded in order. Concatenated members (RFC 1952 2.2) and frames (RFC 8878 3) form one valid
// stream, which every reader we target (Go's gzip, containerd, GNU gzip, zstd, skopeo, umoci)
// reads as a whole. Workers are shipped as source text, as the inflate worker is, so the compiled
// binary needs no extra entry point.
import type { Compression } from "./compression.ts";
import { LayerCompressError } from "./errors.ts";

function workerMain(): void {
  const B = (globalThis as any).Bun;
  const post = (m: unknown, t?: ArrayBuffer[]) => (globalThis as any).postMessage(m, t ?? []);
  (globalThis as any).onmessage = (ev: MessageEvent) => {
    const { seq, buf, len, codec, level } = ev.data;
    try {
      const block = (buf as Uint8Array).subarray(0, len);
      // libdeflate: one-shot deflate, faster than zlib at each level and smaller at level 1.
      const out: Uint8Array = codec === "gzip" ? B.gzipSync(block, { level, library: "libdeflate" }) : B.zstdCompressSync(block, { level });
      // The input buffer goes back for reuse: memory stays at a few blocks, not at what the GC has yet to free.
      post({ seq, out, buf }, [out.buffer as ArrayBuffer, buf.buffer]);
    } catch (e) {
      post({ seq, error: String((e as Error)?.message ?? e) });
    }
  };
}

const SOURCE = `(${workerMain.toString()})()`;

/** Block size: large enough that the per-member header and reset dictionary cost nothing measurable. */
export const BLOCK_SIZE = 1 << 20;

export interface BlockCompressOptions {
  codec: Exclude<Compression, "none">;
  level: number;
  /** Worker threads (started only as blocks need them). */
  workers?: number;
  blockSize?: number;
}

/**
 * Cuts a chunk stream into blocks of exactly `size` bytes (the last one shorter), each in a
 * buffer from `take`; the cut points depend only on the bytes, so output is deterministic.
 */
async function* cut(chunks: AsyncIterable<Uint8Array>, size: number, take: () => Uint8Array): AsyncGenerator<{ buf: Uint8Array; len: number }> {
  let buf = take();
  let used = 0;
  for await (let c of chunks) {
    while (c.byteLength > 0) {
      const n = Math.min(size - used, c.byteLength);
      buf.set(c.subarray(0, n), used);
      used += n;
      c = c.subarray(n);
      if (used === size) {
        yield { buf, len: used }; // transferred to a worker: another buffer for the next block
        buf = take();
        used = 0;
      }
    }
  }
  if (used > 0) yield { buf, len: used };
}

interface Job { seq: number; buf: Uint8Array; len: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }

/** A few workers, each compressing one block at a time; jobs wait in a queue the caller keeps short. */
class Pool {
  #url: string;
  #idle: Worker[] = [];
  #all: Worker[] = [];
  #queue: Job[] = [];
  #running = new Map<Worker, Job>();
  #free: Uint8Array[] = [];
  #failed: Error | undefined;
  constructor(private readonly opts: Required<BlockCompressOptions>) {
    this.#url = URL.createObjectURL(new Blob([SOURCE], { type: "application/javascript" }));
  }
  /** A block buffer: one a worker gave back, or a new one. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.opts.blockSize);
  }
  run(seq: number, buf: Uint8Array, len: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      this.#queue.push({ seq, buf, len, resolve, reject });
      this.#dispatch();
    });
  }
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let w = this.#idle.pop();
      if (!w && this.#all.length < this.opts.workers) w = this.#spawn();
      if (!w) return;
      const job = this.#queue.shift()!;
      this.#running.set(w, job);
      w.postMessage({ seq: job.seq, buf: job.buf, len: job.len, codec: this.opts.codec, level: this.opts.level }, [job.buf.buffer as ArrayBuffer]);
    }
  }
  #spawn(): Worker {
    const w = new Worker(this.#url);
    this.#all.push(w);
    w.onmessage = (ev: MessageEvent) => {
      const job = this.#running.get(w)!;
      this.#running.delete(w);
      this.#idle.push(w);
      const m = ev.data;
      if (m.error !== undefined) job.reject(new LayerCompressError(this.opts.codec, job.seq, m.error));
      else {
        this.#free.push(m.buf);
        job.resolve(m.out);
      }
      this.#dispatch();
    };
    w.onerror = (ev) => this.#fail(new LayerCompressError(this.opts.codec, this.#running.get(w)?.seq ?? -1, (ev as ErrorEvent).message));
    return w;
  }
  #fail(e: Error): void {
    this.#failed = e;
    for (const j of [...this.#running.values(), ...this.#queue]) j.reject(e);
    this.#running.clear();
    this.#queue = [];
  }
  close(): void {
    for (const w of this.#all) w.terminate();
    URL.revokeObjectURL(this.#url);
  }
}

/**
 * The compressed form of `chunks`, as one gzip/zstd stream made of independently compressed
 * blocks, yielded in order. Memory is bounded: at most 2 blocks per worker are in flight or
 * waiting to be yielded. A stream shorter than one block becomes a single member.
 */
export async function* compressBlocks(chunks: AsyncIterable<Uint8Array>, options: BlockCompressOptions): AsyncGenerator<Uint8Array> {
  const opts = { workers: 2, blockSize: BLOCK_SIZE, ...options };
  const pool = new Pool(opts);
  const ahead = 2 * opts.workers;
  const pending: Promise<Uint8Array>[] = [];
  try {
    let seq = 0;
    for await (const { buf, len } of cut(chunks, opts.blockSize, () => pool.take())) {
      if (pending.length >= ahead) yield await pending.shift()!;
      const p = pool.run(seq++, buf, len);
      p.catch(() => {}); // awaited in order below; a rejection seen early is not "unhandled"
      pending.push(p);
    }
    while (pending.length > 0) yield await pending.shift()!;
  } finally {
    pool.close();
  }
}
