// The layer cache: step keys, stores of step entries (a registry repository, an OCI layout), the base-image cache dir and the warmer.
export type { CacheEntry, LayerCache, BaseImageCache } from "./types.ts";
export { DirBaseImageCache, cacheRefName, CacheAnnotation, type DirBaseImageCacheOptions } from "./base-cache.ts";
export { warmImages, type WarmImagesOptions, type WarmResult } from "./warmer.ts";
export { RegistryLayerCache, type RegistryLayerCacheOptions } from "./registry-cache.ts";
export { OciLayoutLayerCache, type OciLayoutLayerCacheOptions } from "./oci-cache.ts";
export { CacheStoreError, type StoreOptions } from "./entry.ts";
export { stepKey, baseKey, stepKeyNeeds, contextKeyInputs, CacheKeyError, CACHE_FORMAT_VERSION } from "./key.ts";
export type { StepKeyInput, StepKeyNeeds, KeyInstruction, KeyState, KeyBuildOptions } from "./key.ts";
