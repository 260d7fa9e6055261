// Public face of lib/layer: tar layer reading and writing over streams.
export { type Compression, detectCompression, createCompressor, createDecompressor } from "./compression.ts";
export { LayerCompressError, LayerFormatError, LayerWriteError, UnsupportedCompressionError } from "./errors.ts";
export { type EntryType, type TarHeader, type ReadHeader, relativeName } from "./header.ts";
export { type Body, type TarEntry, type WriteLayerOptions, type LayerBlob, writeLayer, tarStream } from "./write.ts";
export { type ReadEntry, type BlobSource, LayerReader, readLayer } from "./read.ts";
