// The layer cache in an OCI image layout directory (--cache-repo oci:DIR): each entry is a manifest named by its key
// (org.opencontainers.image.ref.name in index.json, so `skopeo inspect oci:DIR:KEY` reads it), blobs under
// blobs/sha256/. A hit's layer is its blob file, read only when someone opens it.
//
// Several builds may share DIR (a CI volume), each in its own process, and write at once. Blobs are content-named, so
// a blob is written under a temporary name and renamed: two writers of one blob rename the same bytes. index.json is
// the one shared, mutable file, and it is never the source of truth. Each entry also has a small file of its own,
// kiln-refs/KEY (its manifest descriptor, renamed into place, so one writer's entry cannot overwrite another's), and
// index.json is rebuilt from those: read, merge, write to a temporary name, rename, then read again, until it names
// every entry listed in kiln-refs/. The last writer to rename index.json re-checks after it, and sees every entry
// written before, so the final index.json names every entry. A lock file was the other choice, but a build killed
// by SIGKILL (a CI timeout) leaves it behind, and its pid says nothing on a volume shared between containers' pid
// namespaces; this way no state outlives a writer. Lookups read kiln-refs/KEY: one small file per probe, however
// large index.json grows.
import { createWriteStream } from "node:fs";
import { link, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  digestHex, isDigest, MediaType, serializeImage, sha256, StreamDigester,
  type Descriptor, type Image, type ImageConfig, type Index, type Layer, type Manifest,
} from "../image/mod.ts";
import { writeAtomically, writeIfMissing } from "./atomic-file.ts";
import { CacheStoreError, checkKey, entryImage, entryOf, expired, type StoreOptions } from "./entry.ts";
import type { CacheEntry, LayerCache } from "./types.ts";

const REF_NAME = "org.opencontainers.image.ref.name";
const REFS = "kiln-refs";

export interface OciLayoutLayerCacheOptions extends StoreOptions {
  /** The layout directory (the DIR of oci:DIR); created on the first put. */
  dir: string;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

export class OciLayoutLayerCache implements LayerCache {
  readonly name: string;
  #o: OciLayoutLayerCacheOptions;
  #dir: string;

  constructor(opts: OciLayoutLayerCacheOptions) {
    this.#dir = resolve(opts.dir);
    this.name = `oci:${this.#dir}`;
    this.#o = opts;
  }

  #blob(digest: string): string {
    if (!isDigest(digest)) throw new CacheStoreError(this.name, `${JSON.stringify(digest)} is not a sha256 digest`);
    return join(this.#dir, "blobs", "sha256", digestHex(digest));
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    checkKey(this.name, key);
    try {
      const desc = await this.#ref(key);
      if (!desc) return undefined;
      const manifest = parse<Manifest>(await this.#readBlob(desc));
      const config = parse<ImageConfig>(await this.#readBlob(manifest.config));
      const diffIDs = config.rootfs?.diff_ids ?? [];
      if (!Array.isArray(manifest.layers) || diffIDs.length !== manifest.layers.length) {
        throw new Error(`its manifest lists ${manifest.layers?.length} layers but its config ${diffIDs.length} diff_ids`);
      }
      const layers = await Promise.all(manifest.layers.map((d, i) => this.#layer(d, diffIDs[i])));
      const format = (manifest.mediaType ?? desc.mediaType) === MediaType.dockerManifest ? "docker" : "oci";
      const image: Image = { format, config, layers };
      const entry = entryOf(this.name, key, image);
      return expired(entry, this.#o) ? undefined : entry;
    } catch (e) {
      if (e instanceof CacheStoreError) throw e;
      throw new CacheStoreError(this.name, `entry ${key} cannot be read: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Small blobs (manifests, configs), checked against their digests. */
  async #readBlob(d: { digest: string }): Promise<Uint8Array> {
    const bytes = await readFile(this.#blob(d.digest));
    if (sha256(bytes) !== d.digest) throw new Error(`blob ${d.digest} has other content (digest ${sha256(bytes)})`);
    return bytes;
  }

  /** A layer read from its blob file when opened; the file must be there now, so a hit is not a promise of bytes. */
  async #layer(d: Descriptor, diffID: string): Promise<Layer> {
    const path = this.#blob(d.digest);
    const size = (await stat(path)).size;
    if (size !== d.size) throw new Error(`layer blob ${d.digest} has ${size} bytes, its manifest says ${d.size}`);
    const raw = async () => Bun.file(path).stream() as ReadableStream<Uint8Array>;
    return {
      mediaType: d.mediaType, digest: d.digest, size: d.size, diffID, path,
      ...(d.annotations ? { annotations: d.annotations } : {}),
      open: async () => verified(await raw(), d, `layer blob ${path}`),
      openUnverified: raw,
    };
  }

  async put(key: string, entry: { layer?: Layer; createdBy: string }): Promise<void> {
    checkKey(this.name, key);
    const ser = serializeImage(entryImage(entry, this.#o.now?.() ?? new Date()));
    const desc: Descriptor = { ...ser.manifestDescriptor, annotations: { [REF_NAME]: key } };
    try {
      await mkdir(join(this.#dir, "blobs", "sha256"), { recursive: true });
      await mkdir(join(this.#dir, REFS), { recursive: true });
      await writeIfMissing(join(this.#dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      // Blobs before the entry that names them, the entry before index.json: a reader never meets a dangling name.
      if (entry.layer) await this.#writeLayer(entry.layer);
      await writeIfMissing(this.#blob(ser.configDescriptor.digest), ser.configBytes);
      await writeIfMissing(this.#blob(ser.manifestDescriptor.digest), ser.manifestBytes);
      await writeAtomically(join(this.#dir, REFS, key), (tmp) => writeFile(tmp, JSON.stringify(desc)));
      await this.#syncIndex(key);
    } catch (e) {
      if (e instanceof CacheStoreError) throw e;
      throw new CacheStoreError(this.name, `storing entry ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async #writeLayer(layer: Layer): Promise<void> {
    const dest = this.#blob(layer.digest);
    if (await stat(dest).catch(() => undefined)) return;
    if (layer.path) {
      // A hard link costs nothing, and link(2) refuses an existing name, so it needs no temporary file.
      try {
        await link(layer.path, dest);
        return;
      } catch (e) {
        if (errno(e) === "EEXIST") return;
        // Another filesystem, or one without hard links: copy.
      }
    }
    await writeAtomically(dest, async (tmp) => {
      const source = layer.path ? Bun.file(layer.path).stream() as ReadableStream<Uint8Array> : await layer.open();
      await pipeline(Readable.fromWeb(verified(source, layer, `layer ${layer.path ?? layer.digest}`) as any), createWriteStream(tmp));
    });
  }

  /**
   * Makes index.json name every entry of kiln-refs/, and `key` as kiln-refs/ has it now (it may have been stored
   * before, and expired). See the top of this file for why this converges.
   */
  async #syncIndex(key: string): Promise<void> {
    const indexPath = join(this.#dir, "index.json");
    for (;;) {
      let index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      try {
        index = parse<Index>(await readFile(indexPath));
      } catch (e) {
        if (errno(e) !== "ENOENT") throw new Error(`${indexPath} is not a readable OCI index: ${(e as Error).message}`);
      }
      const named = new Map(index.manifests.map((d) => [d.annotations?.[REF_NAME], d.digest]));
      const own = await this.#ref(key);
      const missing = (await readdir(join(this.#dir, REFS))).filter((n) => !n.startsWith(".") && !named.has(n));
      const added = (await Promise.all(missing.map((n) => (n === key ? own : this.#ref(n))))).filter((d) => d !== undefined);
      if (own && named.has(key) && named.get(key) !== own.digest) added.push(own);
      if (added.length === 0) return;
      // A key stored again (after its TTL) replaces its older manifest; entries of other tools are kept.
      const replaced = new Set(added.map((d) => d.annotations?.[REF_NAME]));
      const manifests = [...index.manifests.filter((d) => !replaced.has(d.annotations?.[REF_NAME])), ...added];
      await writeAtomically(indexPath, (tmp) => writeFile(tmp, JSON.stringify({ ...index, manifests })));
    }
  }

  /** The manifest descriptor kiln-refs/ holds for `key`, if any. */
  async #ref(key: string): Promise<Descriptor | undefined> {
    try {
      return parse<Descriptor>(await readFile(join(this.#dir, REFS, key)));
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      throw e;
    }
  }
}

function parse<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}

/** The bytes of a file that must hash to `d`; a difference errors the stream at its end. */
function verified(body: ReadableStream<Uint8Array>, d: { digest: string; size: number }, what: string): ReadableStream<Uint8Array> {
  const digester = new StreamDigester();
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      digester.update(chunk);
      c.enqueue(chunk);
    },
    flush(c) {
      if (digester.size !== d.size || digester.digest() !== d.digest) {
        c.error(new Error(`${what} has changed: ${digester.size} bytes with digest ${digester.digest()}, expected ${d.size} bytes with ${d.digest}`));
      }
    },
  }));
}
