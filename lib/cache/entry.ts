// How a step's cache entry is stored, in a registry repository and in an OCI layout alike (kaniko's scheme): a small
// image of zero or one layer, whose config's `created` dates the entry and whose history holds the step's created_by.
import { appendLayer, type Image, type ImageConfig, type Layer, type Manifest } from "../image/mod.ts";
import type { CacheEntry } from "./types.ts";

/** A store that cannot be read or written, or holds something that is not a cache entry. */
export class CacheStoreError extends Error {
  override name = "CacheStoreError";
  constructor(readonly store: string, message: string, options?: { cause?: unknown }) {
    super(`layer cache ${store}: ${message}`, options);
  }
}

/** What both stores are given: how long an entry stays valid, and (for tests) the clock. */
export interface StoreOptions {
  /** --cache-ttl in milliseconds: an entry stored longer ago is a miss. */
  ttlMs: number;
  now?: () => Date;
}

/** Keys are tags in a registry and ref names in a layout; key.ts makes 64 hex digits, which are both. */
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function checkKey(store: string, key: string): void {
  if (!KEY.test(key)) throw new CacheStoreError(store, `${JSON.stringify(key)} cannot name an entry (a tag: letters, digits, _ . -, at most 128)`);
}

/** The image an entry is stored as. No platform: an entry is keyed by its base, which fixes the platform (as kaniko's empty.Image). */
export function entryImage(entry: { layer?: Layer; createdBy: string }, created: Date): Image {
  const when = created.toISOString();
  const empty: Image = {
    // A Docker-typed layer keeps a Docker manifest (what the final image will name it with); else OCI.
    format: entry.layer && !entry.layer.mediaType.startsWith("application/vnd.oci.") ? "docker" : "oci",
    layers: [],
    config: { created: when, architecture: "", os: "", config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] },
  };
  const image = appendLayer(empty, entry.layer, { created: when, created_by: entry.createdBy });
  if (image.format !== "oci") return image; // Docker schema 2 manifests have no annotations
  // What a lookup needs from the config, repeated in the manifest: a probe is then one round trip, not two.
  return { ...image, annotations: {
    [ANNOTATION.created]: when, [ANNOTATION.createdBy]: entry.createdBy, ...(entry.layer ? { [ANNOTATION.diffID]: entry.layer.diffID } : {}),
  } };
}

const ANNOTATION = { created: "dev.kiln.cache.created", createdBy: "dev.kiln.cache.created-by", diffID: "dev.kiln.cache.diff-id" };

/**
 * The part of an entry's config a lookup reads, from the annotations entryImage wrote into its manifest; undefined
 * (read the config) for an entry without them: a Docker-typed one, or one another tool or an older kiln wrote.
 */
export function entryConfigOf(m: Manifest): ImageConfig | undefined {
  const a = m.annotations;
  const created = a?.[ANNOTATION.created], createdBy = a?.[ANNOTATION.createdBy], diffID = a?.[ANNOTATION.diffID];
  if (created === undefined || createdBy === undefined || m.layers.length !== (diffID === undefined ? 0 : 1)) return undefined;
  return {
    created, architecture: "", os: "", config: {},
    rootfs: { type: "layers", diff_ids: diffID === undefined ? [] : [diffID] }, history: [{ created, created_by: createdBy }],
  };
}

/** The entry an image read back from a store holds; an image of any other shape is an error, not a miss. */
export function entryOf(store: string, key: string, image: Image): CacheEntry {
  const bad = (why: string) => new CacheStoreError(store, `entry ${key} is not a kiln cache entry: ${why}`);
  if (image.layers.length > 1) throw bad(`it has ${image.layers.length} layers, an entry has at most one`);
  const history = image.config.history ?? [];
  const createdBy = history[history.length - 1]?.created_by;
  if (createdBy === undefined) throw bad("its config has no history");
  const created = new Date(image.config.created ?? "");
  if (Number.isNaN(created.getTime())) throw bad(`its config's created ${JSON.stringify(image.config.created)} is not a time`);
  return { ...(image.layers[0] ? { layer: image.layers[0] } : {}), createdBy, created };
}

export function expired(entry: CacheEntry, opts: StoreOptions): boolean {
  return (opts.now?.() ?? new Date()).getTime() - entry.created.getTime() > opts.ttlMs;
}
