// One image per platform under an image index (--platform a,b): the index itself, and the local outputs that
// describe it (an OCI layout, and a tarball that is at once an OCI archive and a docker-archive).
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Image } from "./image.ts";
import { serializeImage, toOciFormat } from "./image.ts";
import { digestHex, sha256 } from "./digest.ts";
import { MediaType, type Descriptor, type Platform } from "./types.ts";
import { writeBlobFile, type DockerArchiveEntry, type TarWriter } from "./outputs.ts";

export interface PlatformImage {
  platform: Platform;
  image: Image;
}

export interface SerializedIndex {
  bytes: Uint8Array;
  descriptor: Descriptor;
}

const platformField = (p: Platform): Platform => ({ os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) });

/**
 * The index naming each image's manifest with its platform: a Docker manifest list when every image is Docker-
 * typed (registries and old clients pair those), else an OCI index (then every image must be OCI: see ociImages).
 */
export function serializeIndex(images: readonly PlatformImage[]): SerializedIndex {
  const docker = images.every((i) => i.image.format === "docker");
  const mediaType = docker ? MediaType.dockerManifestList : MediaType.ociIndex;
  const manifests = images.map((i) => ({ ...serializeImage(i.image).manifestDescriptor, platform: platformField(i.platform) }));
  const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType, manifests }));
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.byteLength } };
}

/** The images of an index as they go out: all Docker-typed, or all OCI (a mix would pair media types wrongly). */
export function indexImages(images: readonly PlatformImage[]): PlatformImage[] {
  if (images.every((i) => i.image.format === "docker")) return [...images];
  return images.map((i) => ({ ...i, image: toOciFormat(i.image) }));
}

/** Every blob of the index (each image's layers, config and manifest, and the index), each once, by digest. */
function* indexBlobs(images: readonly PlatformImage[], index: SerializedIndex): Generator<{ digest: string; bytes?: Uint8Array; layer?: Image["layers"][number] }> {
  const seen = new Set<string>();
  for (const { image } of images) {
    const ser = serializeImage(image);
    for (const l of image.layers) if (!seen.has(l.digest) && seen.add(l.digest)) yield { digest: l.digest, layer: l };
    for (const [d, bytes] of [[ser.configDescriptor.digest, ser.configBytes], [ser.manifestDescriptor.digest, ser.manifestBytes]] as const) {
      if (!seen.has(d) && seen.add(d)) yield { digest: d, bytes };
    }
  }
  yield { digest: index.descriptor.digest, bytes: index.bytes };
}

/**
 * index.json of a layout holding an index: the index under `refName` (what `oci:DIR:NAME` and BuildKit's oci
 * exporter name), then each platform's manifest with its platform, for tools that read index.json alone.
 */
function layoutIndexJson(images: readonly PlatformImage[], index: SerializedIndex, refName: string): Uint8Array {
  const manifests = [
    { ...index.descriptor, annotations: { "org.opencontainers.image.ref.name": refName } },
    ...images.map((i) => ({ ...serializeImage(i.image).manifestDescriptor, platform: platformField(i.platform) })),
  ];
  return new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}

/** Writes `given` (converted to OCI media types) and their index as an OCI layout into the new directory `dir`; returns the index digest. */
export async function writeOciIndexLayoutAt(given: readonly PlatformImage[], dir: string, opts: { refName: string }): Promise<string> {
  // A layout holds OCI media types only (umoci and skopeo reject Docker ones there).
  const images = given.map((i) => ({ ...i, image: toOciFormat(i.image) }));
  const index = serializeIndex(images);
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of indexBlobs(images, index)) {
    const path = join(dir, "blobs", "sha256", digestHex(b.digest));
    if (b.layer) await writeBlobFile(b.layer, path);
    else await writeFile(path, b.bytes!);
  }
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(dir, "index.json"), layoutIndexJson(images, index, opts.refName));
  return index.descriptor.digest;
}

/**
 * Writes the index as one tarball that is both an OCI archive (oci-layout, index.json, blobs/: skopeo's
 * `oci-archive:`, `docker load` of Docker 25+) and a docker-archive (manifest.json naming the same blobs: older
 * `docker load`). In the docker-archive part `tags` go to the image of `tagged` (the host's platform, which is
 * what `docker run` there can start); the other images load untagged, by ID.
 */
export async function writeIndexArchiveAt(
  images: readonly PlatformImage[], path: string, opts: { refName: string; tags: string[]; tagged: number }, tar: TarWriter,
): Promise<string> {
  const index = serializeIndex(images);
  await pipeline(Readable.from(tar(indexArchiveEntries(images, index, opts))), createWriteStream(path));
  return index.descriptor.digest;
}

async function* indexArchiveEntries(
  images: readonly PlatformImage[], index: SerializedIndex, opts: { refName: string; tags: string[]; tagged: number },
): AsyncGenerator<DockerArchiveEntry> {
  const file = (name: string, body: Uint8Array | AsyncIterable<Uint8Array>, size = (body as Uint8Array).byteLength): DockerArchiveEntry =>
    ({ header: { name, type: "file", mode: 0o644, uid: 0, gid: 0, size, mtime: new Date(0) }, body });
  const enc = new TextEncoder();
  yield file("oci-layout", enc.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  const blob = (d: string) => `blobs/sha256/${digestHex(d)}`;
  for (const b of indexBlobs(images, index)) {
    const l = b.layer;
    yield l ? file(blob(b.digest), (async function* () { yield* Readable.fromWeb((await l.open()) as any) as AsyncIterable<Uint8Array>; })(), l.size) : file(blob(b.digest), b.bytes!);
  }
  yield file("index.json", layoutIndexJson(images, index, opts.refName));
  const docker = images.map(({ image }, n) => ({
    Config: blob(serializeImage(image).configDescriptor.digest),
    RepoTags: n === opts.tagged ? opts.tags : [],
    Layers: image.layers.map((l) => blob(l.digest)),
  }));
  yield file("manifest.json", enc.encode(JSON.stringify(docker)));
}
