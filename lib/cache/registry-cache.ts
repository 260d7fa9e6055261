// The layer cache in a registry repository (--cache-repo REPO), kaniko's scheme: each entry is a small image tagged
// with its key. A lookup reads the manifest (and the config, unless the manifest's annotations repeat what it
// needs), never the layer: a hit's layer stays lazy, with the cache repository as its origin, so the final image's
// push mounts it instead of moving its bytes.
import { parseReference, type Layer } from "../image/mod.ts";
import type { RegistryClient } from "../registry/mod.ts";
import { CacheStoreError, checkKey, entryConfigOf, entryImage, entryOf, expired, type StoreOptions } from "./entry.ts";
import type { CacheEntry, LayerCache } from "./types.ts";

export interface RegistryLayerCacheOptions extends StoreOptions {
  client: RegistryClient;
  /** The cache repository, "host[:port]/path" without a tag (--cache-repo, or kaniko's `<destination repo>/cache`). */
  repo: string;
}

export class RegistryLayerCache implements LayerCache {
  readonly name: string;
  #o: RegistryLayerCacheOptions;

  constructor(opts: RegistryLayerCacheOptions) {
    // A tag would be replaced by each key; a digest cannot name many entries. Either is a mistake worth naming.
    const r = parseReference(opts.repo);
    if (r.digest || /:[^/]*$/.test(opts.repo)) {
      throw new CacheStoreError(opts.repo, "--cache-repo names a repository (host/path), without a tag or digest; each entry is tagged with its key");
    }
    this.name = `${r.registry}/${r.repository}`;
    this.#o = opts;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    checkKey(this.name, key);
    const pulled = await this.#o.client.pullManifest(`${this.name}:${key}`, { configFrom: entryConfigOf });
    if (!pulled) return undefined;
    const entry = entryOf(this.name, key, pulled.image);
    return expired(entry, this.#o) ? undefined : entry;
  }

  /** Uploads the layer (HEAD first, a mount when it lives in another repository of this registry), the config, the tag. */
  async put(key: string, entry: { layer?: Layer; createdBy: string }): Promise<void> {
    checkKey(this.name, key);
    await this.#o.client.push(entryImage(entry, this.#o.now?.() ?? new Date()), [`${this.name}:${key}`]);
  }
}
