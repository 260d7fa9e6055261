// Immutable image values. A Layer knows its digests and how to open its compressed bytes;
// where the bytes live (file, registry, memory) is its own business.
import type { Descriptor, HistoryEntry, ImageConfig, Platform } from "./types.ts";
import { MediaType } from "./types.ts";
import { sha256 } from "./digest.ts";

export interface Layer {
  readonly mediaType: string;
  /** Digest of the (compressed) blob. */
  readonly digest: string;
  readonly size: number;
  /** Digest of the uncompressed tar. */
  readonly diffID: string;
  readonly annotations?: Record<string, string>;
  /** Opens the blob as stored (compressed). */
  open(): Promise<ReadableStream<Uint8Array>>;
  /**
   * The same bytes without the digest and size checks open() makes, for a reader that checks them
   * itself (applying a layer does, on its inflate worker, off the thread that creates files).
   */
  openUnverified?(): Promise<ReadableStream<Uint8Array>>;
  /** Where the blob already lives in a registry, for HEAD checks and cross-repo mounts. */
  readonly origin?: { registry: string; repository: string };
  /** A local file holding the blob, when there is one (pushes and layouts stream or link from it). */
  readonly path?: string;
}

export type ManifestFormat = "oci" | "docker";

export interface Image {
  readonly format: ManifestFormat;
  readonly config: ImageConfig;
  readonly layers: readonly Layer[];
  /** Manifest annotations carried from the base. */
  readonly annotations?: Record<string, string>;
}

/**
 * The media type of a new layer: it names the codec of the bytes. Docker schema 2 has no zstd layer type, so a zstd
 * layer is OCI-typed whatever the image's format, and appending it turns the image OCI (as BuildKit forces OCI media
 * types for zstd); gzip and uncompressed layers follow the image's format.
 */
export function layerMediaType(format: ManifestFormat, compression: "gzip" | "zstd" | "none"): string {
  if (compression === "zstd") return MediaType.ociLayerZstd;
  if (format === "docker") return compression === "none" ? MediaType.dockerLayer : MediaType.dockerLayerGzip;
  return compression === "none" ? MediaType.ociLayer : MediaType.ociLayerGzip;
}

/** A Docker schema 2 manifest can only name Docker layer types; a layer of an OCI type needs an OCI manifest. */
function needsOciManifest(img: Image): boolean {
  return img.format === "docker" && img.layers.some((l) => l.mediaType.startsWith("application/vnd.oci."));
}

/** The empty image `FROM scratch` starts from (Docker media types, as BuildKit and kaniko use). */
export function scratchImage(platform: Platform): Image {
  return {
    format: "docker",
    layers: [],
    config: {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    },
  };
}

/** Appends a layer (or only a history entry when layer is undefined). */
export function appendLayer(img: Image, layer: Layer | undefined, history: HistoryEntry): Image {
  return appendLayers(img, [{ layer, history }]);
}

/** appendLayer for many steps at once: one copy of the lists, not one per step (a stage of N steps stays O(N)). */
export function appendLayers(img: Image, steps: readonly { layer: Layer | undefined; history: HistoryEntry }[]): Image {
  const diffIDs = [...img.config.rootfs.diff_ids];
  const history = [...(img.config.history ?? [])];
  const layers = [...img.layers];
  for (const { layer, history: h } of steps) {
    if (layer) {
      diffIDs.push(layer.diffID);
      layers.push(layer);
    }
    history.push(layer ? h : { ...h, empty_layer: true });
  }
  const config: ImageConfig = { ...img.config, rootfs: { type: "layers", diff_ids: diffIDs }, history };
  const next = { ...img, config, layers };
  return needsOciManifest(next) ? toOciFormat(next) : next;
}

export function withConfig(img: Image, config: ImageConfig): Image {
  return { ...img, config };
}

/** Serialised config, manifest and their digests: what every output writes. */
export interface SerializedImage {
  configBytes: Uint8Array;
  configDescriptor: Descriptor;
  manifestBytes: Uint8Array;
  manifestDescriptor: Descriptor;
}

export function serializeImage(img: Image): SerializedImage {
  const enc = new TextEncoder();
  const configBytes = enc.encode(JSON.stringify(img.config));
  const oci = img.format === "oci";
  const configDescriptor: Descriptor = {
    mediaType: oci ? MediaType.ociConfig : MediaType.dockerConfig,
    digest: sha256(configBytes),
    size: configBytes.byteLength,
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? MediaType.ociManifest : MediaType.dockerManifest,
    config: configDescriptor,
    layers: img.layers.map((l) => ({
      mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
    ...(oci && img.annotations ? { annotations: img.annotations } : {}),
  };
  const manifestBytes = enc.encode(JSON.stringify(manifest));
  return {
    configBytes,
    configDescriptor,
    manifestBytes,
    manifestDescriptor: { mediaType: manifest.mediaType, digest: sha256(manifestBytes), size: manifestBytes.byteLength },
  };
}

/** A layer whose blob is a local file (new layers, cached layers, layout blobs). */
export function fileLayer(d: { path: string; mediaType: string; digest: string; size: number; diffID: string; origin?: Layer["origin"] }): Layer {
  return {
    ...d,
    open: async () => Bun.file(d.path).stream() as ReadableStream<Uint8Array>,
  };
}

const DOCKER_TO_OCI_LAYER: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayer]: MediaType.ociLayer,
  [MediaType.dockerForeignLayerGzip]: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
};

/** The same image with OCI media types (layer bytes unchanged), for outputs that must be OCI, like an image layout. */
export function toOciFormat(img: Image): Image {
  if (img.format === "oci") return img;
  return {
    ...img,
    format: "oci",
    layers: img.layers.map((l) => {
      const mediaType = DOCKER_TO_OCI_LAYER[l.mediaType] ?? l.mediaType;
      return mediaType === l.mediaType ? l : Object.assign(Object.create(Object.getPrototypeOf(l)), l, { mediaType });
    }),
  };
}
