// Typed errors of the layer folder: callers tell a broken blob from an unsupported one.

/** The bytes are not a readable tar layer (truncated, corrupt header, bad compression stream). */
export class LayerFormatError extends Error {
  override name = "LayerFormatError";
  constructor(readonly what: string, cause?: unknown) {
    super(`${what}: the layer blob is not a valid (compressed) tar; re-pull or rebuild the layer`, { cause });
  }
}

/** A compression this runtime cannot produce or read. */
export class UnsupportedCompressionError extends Error {
  override name = "UnsupportedCompressionError";
  constructor(compression: string) {
    super(`compression "${compression}" is not supported by this runtime: use gzip, zstd (where node:zlib offers it) or none`);
  }
}

/** An entry could not be written (its body does not match its header). */
export class LayerWriteError extends Error {
  override name = "LayerWriteError";
  constructor(entry: string, problem: string) {
    super(`writing layer entry "${entry}": ${problem}; the layer was not written`);
  }
}

/** A block of a layer could not be compressed (the codec refused the level, or a worker died). */
export class LayerCompressError extends Error {
  override name = "LayerCompressError";
  constructor(codec: string, block: number, problem: string) {
    super(`compressing block ${block} of a layer with ${codec}: ${problem}; check --compression and --compression-level`);
  }
}
