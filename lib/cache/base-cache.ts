// The base-image cache directory (--cache-dir): one OCI image layout the warmer fills and the executor only reads.
// index.json names each image by its normalized reference and platform, with the time it was fetched; blobs are
// shared between images. A tag reference older than the TTL is a miss (the tag may have moved); a digest reference
// names fixed content and is always served.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  digestHex, DOCKER_HUB, fileLayer, formatPlatform, MediaType, parsePlatform, parseReference, platformMatches, sha256,
  type Descriptor, type Image, type ImageConfig, type Index, type Layer, type Manifest, type Platform,
} from "../image/mod.ts";
import { silentLogger, type Logger } from "../log/mod.ts";
import type { BaseImageCache } from "./types.ts";

/** The annotations of an index.json entry. */
export const CacheAnnotation = {
  /** The normalized reference, so `skopeo inspect oci:DIR:REF` finds the image. */
  refName: "org.opencontainers.image.ref.name",
  /** os/arch[/variant] the image was fetched for. */
  platform: "dev.kiln.cache.platform",
  /** ISO 8601 time of the fetch; the TTL counts from it. */
  fetched: "dev.kiln.cache.fetched",
  /** The manifest digest the registry served (the stored manifest is kiln's serialization of the same image). */
  sourceDigest: "dev.kiln.cache.source-digest",
} as const;

export const blobPath = (dir: string, digest: string) => join(dir, "blobs", "sha256", digestHex(digest));

/**
 * The name an image has in the cache: its reference with Docker's defaults written out, Docker Hub as docker.io
 * (`busybox` -> `docker.io/library/busybox:latest`), so every spelling of one reference finds one entry.
 */
export function cacheRefName(ref: string): string {
  const r = parseReference(ref);
  const registry = r.registry === DOCKER_HUB ? "docker.io" : r.registry;
  return `${registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** The layout's index, or an empty one when the directory holds none yet. */
export async function readCacheIndex(dir: string): Promise<Index> {
  let text: string;
  try {
    text = await readFile(join(dir, "index.json"), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    throw e;
  }
  const index = JSON.parse(text) as Index;
  if (!Array.isArray(index.manifests)) throw new Error(`${join(dir, "index.json")} is not an OCI image index`);
  return index;
}

/** The entry for `name` on `platform` (the refName and platform annotations), if the index has one. */
export function findCacheEntry(index: Index, name: string, platform: Platform): Descriptor | undefined {
  return index.manifests.find((d) => {
    const a = d.annotations ?? {};
    if (a[CacheAnnotation.refName] !== name || !a[CacheAnnotation.platform]) return false;
    try {
      return platformMatches(platform, parsePlatform(a[CacheAnnotation.platform]));
    } catch {
      return false;
    }
  });
}

/** Whether an entry may be served: a digest reference always, a tag reference within `ttlMs` of its fetch. */
export function isFresh(entry: Descriptor, name: string, ttlMs: number, now: Date): boolean {
  if (parseReference(name).digest) return true;
  const fetched = Date.parse(entry.annotations?.[CacheAnnotation.fetched] ?? "");
  return Number.isFinite(fetched) && now.getTime() - fetched < ttlMs;
}

/** What makes an entry: annotations for the index and the platform field OCI tools read. */
export function cacheEntry(manifest: Descriptor, name: string, platform: Platform, fetched: Date, sourceDigest: string): Descriptor {
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    platform: { os: platform.os, architecture: platform.architecture, ...(platform.variant ? { variant: platform.variant } : {}) },
    annotations: {
      [CacheAnnotation.refName]: name,
      [CacheAnnotation.platform]: formatPlatform(platform),
      [CacheAnnotation.fetched]: fetched.toISOString(),
      [CacheAnnotation.sourceDigest]: sourceDigest,
    },
  };
}

class CorruptEntryError extends Error {}

async function readVerified(dir: string, d: Descriptor): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(blobPath(dir, d.digest)));
  if (bytes.byteLength !== d.size || sha256(bytes) !== d.digest) throw new CorruptEntryError(`blob ${d.digest} does not match its digest`);
  return bytes;
}

/** The image an entry names, its layers read from the blob files (which must be there with their sizes). */
export async function readCachedImage(dir: string, entry: Descriptor, origin?: Layer["origin"]): Promise<Image> {
  const manifest = JSON.parse(new TextDecoder().decode(await readVerified(dir, entry))) as Manifest;
  const config = JSON.parse(new TextDecoder().decode(await readVerified(dir, manifest.config))) as ImageConfig;
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== manifest.layers.length) throw new CorruptEntryError("its manifest and config disagree on the layers");
  const layers = await Promise.all(manifest.layers.map(async (d, i): Promise<Layer> => {
    const path = blobPath(dir, d.digest);
    const st = await stat(path).catch(() => undefined);
    if (!st || st.size !== d.size) throw new CorruptEntryError(`layer blob ${d.digest} is ${st ? `${st.size} bytes, not ${d.size}` : "missing"}`);
    const layer = fileLayer({ path, mediaType: d.mediaType, digest: d.digest, size: d.size, diffID: diffIDs[i], ...(origin ? { origin } : {}) });
    return d.annotations ? { ...layer, annotations: d.annotations } : layer;
  }));
  const format = (manifest.mediaType ?? entry.mediaType) === MediaType.dockerManifest ? "docker" : "oci";
  return { format, config, layers, ...(manifest.annotations ? { annotations: manifest.annotations } : {}) };
}

export interface DirBaseImageCacheOptions {
  dir: string;
  /** How long a tag reference's entry is served after its fetch (--cache-ttl). */
  ttlMs: number;
  logger?: Logger;
  now?: () => Date;
}

/**
 * Reads the warmer's directory. Never writes or locks it (it may be a read-only volume shared by many builds); the
 * warmer replaces index.json by rename, so a read sees one whole version. An unreadable or damaged entry is a miss
 * with a warning: the registry is still there to pull from.
 */
export class DirBaseImageCache implements BaseImageCache {
  readonly dir: string;
  #ttlMs: number;
  #log: Logger;
  #now: () => Date;

  constructor(o: DirBaseImageCacheOptions) {
    this.dir = o.dir;
    this.#ttlMs = o.ttlMs;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? (() => new Date());
  }

  async get(ref: string, platform: Platform): Promise<Image | undefined> {
    const name = cacheRefName(ref);
    try {
      const entry = findCacheEntry(await readCacheIndex(this.dir), name, platform);
      if (!entry) {
        this.#log.debug(`${name} (${formatPlatform(platform)}) is not in the base-image cache ${this.dir}`);
        return undefined;
      }
      if (!isFresh(entry, name, this.#ttlMs, this.#now())) {
        this.#log.info(`${name} in the base-image cache ${this.dir} was fetched ${entry.annotations?.[CacheAnnotation.fetched]}, longer ago than --cache-ttl: pulling it instead`);
        return undefined;
      }
      const r = parseReference(ref);
      const image = await readCachedImage(this.dir, entry, { registry: r.registry, repository: r.repository });
      this.#log.info(`Found ${name} in the base-image cache ${this.dir}`);
      return image;
    } catch (e) {
      this.#log.warn(`cannot use ${name} from the base-image cache ${this.dir} (${(e as Error).message}): pulling it instead; the warmer with --force rewrites it`);
      return undefined;
    }
  }
}
