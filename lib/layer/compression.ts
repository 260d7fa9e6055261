// Compression of layer blobs. gzip and zstd both come from node:zlib so they stream with
// backpressure in constant memory.
import zlib from "node:zlib";
import { PassThrough, type Transform } from "node:stream";
import { UnsupportedCompressionError } from "./errors.ts";

export type Compression = "gzip" | "zstd" | "none";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.byteLength >= magic.length && magic.every((b, i) => head[i] === b);
}

/** Sniffs the first bytes of a blob; anything not gzip or zstd is taken as plain tar. */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return "gzip";
  if (startsWith(head, ZSTD_MAGIC)) return "zstd";
  return "none";
}

/** Bytes needed by detectCompression to decide. */
export const SNIFF_BYTES = ZSTD_MAGIC.length;

function hasZstd(): boolean {
  return typeof zlib.createZstdCompress === "function" && typeof zlib.createZstdDecompress === "function";
}

/**
 * kaniko's level when --compression-level is not given: go-containerregistry's layer default,
 * gzip.BestSpeed (1), which its zstd path maps to zstd level 1 as well.
 */
export const DEFAULT_LEVEL = 1;

/** A compressing transform; level is the codec's own scale (gzip 1-9, zstd 1-22), DEFAULT_LEVEL when undefined. */
export function createCompressor(c: Compression, level = DEFAULT_LEVEL): Transform {
  switch (c) {
    case "gzip":
      return zlib.createGzip({ level });
    case "zstd":
      if (!hasZstd()) throw new UnsupportedCompressionError("zstd");
      return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
    case "none":
      return new PassThrough();
  }
}

export function createDecompressor(c: Compression): Transform {
  switch (c) {
    case "gzip":
      return zlib.createGunzip();
    case "zstd":
      if (!hasZstd()) throw new UnsupportedCompressionError("zstd");
      return zlib.createZstdDecompress();
    case "none":
      return new PassThrough();
  }
}
