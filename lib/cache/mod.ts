// The layer cache: step keys, stores of step entries (a registry repository, an OCI layout), the base-image cache dir and the warmer.
export type { CacheEntry, LayerCache, BaseImageCache } from "./types.ts";
