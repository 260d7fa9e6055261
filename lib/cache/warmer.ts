// The warmer: fetches base images into the cache directory the executor reads (--cache-dir). Blobs are written
// under temporary names and renamed into place, and index.json is replaced whole (temp file, rename) under a lock
// file, so a build reading the directory meanwhile, or a second warmer writing it, never sees half an entry and no
// entry is lost.
import { createWriteStream } from "node:fs";
import { mkdir, open, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { formatPlatform, serializeImage, type Image, type Platform } from "../image/mod.ts";
import type { Logger } from "../log/mod.ts";
import { RegistryClient, type RegistryOptions } from "../registry/mod.ts";
import { writeAtomically, writeIfMissing } from "./atomic-file.ts";
import { blobPath, cacheEntry, cacheRefName, findCacheEntry, isFresh, readCacheIndex, readCachedImage, CacheAnnotation } from "./base-cache.ts";

export interface WarmImagesOptions {
  /** The images to fetch, each for its platform. */
  images: { ref: string; platform: Platform }[];
  cacheDir: string;
  /** A tag reference fetched longer ago than this is fetched again (--cache-ttl). */
  cacheTtlMs: number;
  /** Fetch even entries that are still fresh. */
  force: boolean;
  registry: RegistryOptions;
  logger: Logger;
  /** Images fetched at once (default 3). */
  concurrency?: number;
  now?: () => Date;
}

export interface WarmResult {
  /** Normalized references fetched and stored. */
  warmed: string[];
  /** Normalized references that were fresh in the cache already. */
  skipped: string[];
  /** One per image that could not be cached; the others were still warmed. */
  failed: { ref: string; error: Error }[];
}

/** Fetches every image into the cache directory, each at most once; a failure of one does not stop the others. */
export async function warmImages(o: WarmImagesOptions): Promise<WarmResult> {
  const now = o.now ?? (() => new Date());
  const log = o.logger;
  const result: WarmResult = { warmed: [], skipped: [], failed: [] };
  const seen = new Set<string>();
  const jobs = o.images.filter(({ ref, platform }) => {
    const k = `${ref} ${formatPlatform(platform)}`;
    return !seen.has(k) && !!seen.add(k);
  });
  // Made up front, so an unwritable --cache-dir is one error rather than one per image.
  await mkdir(join(o.cacheDir, "blobs", "sha256"), { recursive: true });
  const client = new RegistryClient({ ...o.registry, logger: log });
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { ref, platform } = jobs[next++];
      let name = ref;
      try {
        name = cacheRefName(ref);
        if (!o.force && await hasFresh(o.cacheDir, name, platform, o.cacheTtlMs, now())) {
          log.info(`${name} (${formatPlatform(platform)}) is already in the cache: skipping it (--force fetches it again)`);
          result.skipped.push(name);
          continue;
        }
        log.info(`Caching ${name} (${formatPlatform(platform)})`);
        const pulled = await client.pull(ref, platform);
        await addToCache(o.cacheDir, name, platform, pulled, { force: o.force, fetched: now() });
        log.info(`Cached ${name} (${formatPlatform(platform)}) in ${o.cacheDir}`, { digest: pulled.digest });
        result.warmed.push(name);
      } catch (e) {
        result.failed.push({ ref: name, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 3, jobs.length) }, worker));
  return result;
}

/**
 * Stores one fetched image as the entry for `name` on `platform`: blobs first, then the index entry, so a reader
 * never finds an entry whose blobs are missing. `sourceDigest` is the manifest digest the registry served.
 */
export async function addToCache(
  dir: string, name: string, platform: Platform, pulled: { image: Image; digest: string }, o: { force: boolean; fetched: Date },
): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await writeIfMissing(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await storeImage(dir, pulled.image, o.force);
  await updateIndex(dir, cacheEntry(serializeImage(pulled.image).manifestDescriptor, name, platform, o.fetched, pulled.digest));
}

/** Whether a fresh entry whose blobs are all present already stands for `name` on `platform`. */
async function hasFresh(dir: string, name: string, platform: Platform, ttlMs: number, now: Date): Promise<boolean> {
  const entry = findCacheEntry(await readCacheIndex(dir), name, platform);
  if (!entry || !isFresh(entry, name, ttlMs, now)) return false;
  try {
    await readCachedImage(dir, entry);
    return true;
  } catch {
    return false; // damaged: fetch it again
  }
}

/** Writes the image's blobs; a blob already there with its size is kept unless `force` (blobs are shared by digest). */
async function storeImage(dir: string, image: Image, force: boolean): Promise<void> {
  const present = async (path: string, size: number) => !force && (await stat(path).catch(() => undefined))?.size === size;
  for (const layer of image.layers) {
    const path = blobPath(dir, layer.digest);
    if (await present(path, layer.size)) continue;
    // open() checks the digest and size as the bytes stream, so a bad download fails before the rename.
    await writeAtomically(path, async (tmp) => pipeline(Readable.fromWeb((await layer.open()) as any), createWriteStream(tmp)));
  }
  const ser = serializeImage(image);
  for (const [d, bytes] of [[ser.configDescriptor, ser.configBytes], [ser.manifestDescriptor, ser.manifestBytes]] as const) {
    const path = blobPath(dir, d.digest);
    if (await present(path, d.size)) continue;
    await writeAtomically(path, (tmp) => writeFile(tmp, bytes));
  }
}

/** Replaces the entry for the same reference and platform, under the directory's lock. */
async function updateIndex(dir: string, entry: ReturnType<typeof cacheEntry>): Promise<void> {
  const a = entry.annotations!;
  await withLock(join(dir, "index.json.lock"), async () => {
    const index = await readCacheIndex(dir);
    const manifests = index.manifests.filter((d) =>
      d.annotations?.[CacheAnnotation.refName] !== a[CacheAnnotation.refName] || d.annotations?.[CacheAnnotation.platform] !== a[CacheAnnotation.platform]);
    manifests.push(entry);
    await writeAtomically(join(dir, "index.json"), (tmp) => writeFile(tmp, JSON.stringify({ ...index, manifests }, null, 2)));
  });
}

/**
 * Runs `fn` holding `path`, a lock file created exclusively. The section it guards (read, merge and rename
 * index.json) takes milliseconds, so a lock older than STALE_MS was left by a warmer that died holding it and is
 * taken over. A file lock rather than flock(2): the cache dir is often a network volume shared between hosts.
 */
async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const STALE_MS = 30_000;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = await stat(path).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_MS) {
      await rm(path, { force: true });
      continue;
    }
    await Bun.sleep(wait);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
