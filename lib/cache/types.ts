// The shapes the layer cache is built from, agreed before its parts are written: a step's key (key.ts), the
// stores that keep entries under keys (a registry repository, an OCI image layout directory), and the base-image
// cache directory the warmer fills.
import type { Image, Layer, Platform } from "../image/mod.ts";

/** What one cached step left: its layer (none when the step changed no file) and its history text. */
export interface CacheEntry {
  /** Lazy: opening it downloads or reads the blob; `origin` is set for a registry store (cross-repo mounts). */
  layer?: Layer;
  /** `created_by` of the step's history entry. */
  createdBy: string;
  /** When the entry was stored; an entry older than the TTL is a miss. */
  created: Date;
}

/** A store of step entries by key. get() fetches metadata only, never layer bytes. */
export interface LayerCache {
  /** A human-readable name for logs: "registry.example.com/team/app/cache" or "oci:/path". */
  readonly name: string;
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores an entry; a failure is an error the caller turns into a warning (a cache never fails a build). */
  put(key: string, entry: { layer?: Layer; createdBy: string }): Promise<void>;
}

/** Base images stored by the warmer (--cache-dir), read by the executor before the registry. */
export interface BaseImageCache {
  /** The image for `ref` on `platform`, or undefined when absent (or a tag reference older than the TTL). */
  get(ref: string, platform: Platform): Promise<Image | undefined>;
}
