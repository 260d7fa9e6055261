// The registry client the build uses: pull one platform of an image (lazy layers), push an image under many tags.
import type { Logger } from "../log/mod.ts";
import {
  DOCKER_HUB, formatPlatform, formatReference, manifestSelector, MediaType, parseReference, serializeImage, serializeIndex,
  type PlatformImage,
  type Image, type ImageConfig, type Index, type Layer, type Manifest, type Platform, type Reference,
} from "../image/mod.ts";
import { checkPushPermission, openBlob, pushBlob, readBlob, type UploadResult } from "./blobs.ts";
import { RegistryError } from "./errors.ts";
import { Keychain } from "./keychain.ts";
import { asManifest, getManifest, isIndex, parseJson, putManifest, selectPlatform, type FetchedManifest } from "./manifests.ts";
import { EndpointPolicy, type Purpose, type RegistryOptions } from "./options.ts";
import { Session, type PingCache } from "./session.ts";

export interface PullResult {
  image: Image;
  /** Digest of the single-platform manifest. */
  digest: string;
  /** Digest of the index or manifest list the reference named, when it named one. */
  indexDigest?: string;
}

/** Runs fn over items with at most `limit` in flight; the first failure rejects. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class RegistryClient {
  #o: RegistryOptions;
  #log: Logger;
  #keychain: Keychain;
  #policy: EndpointPolicy;
  #sessions = new Map<string, Promise<Session>>();
  /** By endpoint (URL and TLS settings): a registry's pull and push sessions ping it once between them. */
  #pings = new Map<string, PingCache>();
  /**
   * Layers this client has put (or is putting) into a repository, by "registry digest": another repository of that
   * registry mounts them instead of receiving the bytes again (a cache store's layer, then the same layer in the
   * destination, or the other way round).
   */
  #placed = new Map<string, { repository: string; done: Promise<boolean> }>();

  constructor(opts: RegistryOptions & { logger: Logger }) {
    this.#o = opts;
    this.#log = opts.logger;
    this.#keychain = new Keychain({ dockerConfigDir: opts.dockerConfigDir, helperPath: opts.credentialHelperPath, env: opts.envCredentials, cloudEnv: opts.cloudEnv });
    this.#policy = new EndpointPolicy(opts);
  }

  #session(registry: string, purpose: Purpose): Promise<Session> {
    const key = `${purpose} ${registry}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = this.#policy.endpoint(registry, purpose).then((ep) => new Session({
        registry, baseUrl: ep.baseUrl, tls: ep.tls, keychain: this.#keychain, logger: this.#log, ping: this.#pingOf(ep.baseUrl, ep.tls),
        retries: (purpose === "pull" ? this.#o.pullRetries : this.#o.pushRetries) ?? this.#o.retries ?? 0, userAgent: this.#o.userAgent ?? "kiln", backoffMs: this.#o.retryBackoffMs,
      }));
      this.#sessions.set(key, s);
    }
    return s;
  }

  #pingOf(baseUrl: string, tls: object): PingCache {
    const key = `${baseUrl} ${JSON.stringify(tls)}`;
    let p = this.#pings.get(key);
    if (!p) this.#pings.set(key, (p = {}));
    return p;
  }

  /**
   * Pulls one platform of ref. A registry with mirrors (registryMap) is tried through each mirror in order, then
   * itself unless skipDefaultRegistryFallback; a mirror's failure of any kind moves on to the next candidate.
   */
  async pull(ref: string, platform: Platform): Promise<PullResult> {
    const r = parseReference(ref);
    const mirrors = mirrorsOf(this.#o.registryMap ?? {}, r.registry);
    if (mirrors.length === 0) return this.#pullFrom(r, platform);
    const failures: string[] = [];
    for (const m of mirrors) {
      const candidate = throughMirror(r, m);
      try {
        const res = await this.#pullFrom(candidate, platform);
        this.#log.info(`Pulled ${formatReference(r)} from mirror ${m}`);
        return res;
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        this.#log.warn(`mirror ${m} failed for ${formatReference(r)}: ${e.message}`);
        failures.push(`${m}: ${e.message}`);
      }
    }
    if (this.#o.skipDefaultRegistryFallback) {
      throw new RegistryError(`${formatReference(r)} could not be pulled from any mirror of ${r.registry} and --skip-default-registry-fallback forbids ${r.registry} itself (${failures.join("; ")})`, { registry: r.registry, repository: r.repository, code: "MIRRORS_FAILED" });
    }
    return this.#pullFrom(r, platform);
  }

  /**
   * Starts and cancels an upload in each destination repository, so missing push rights fail the build
   * before it runs rather than after.
   */
  async checkPushPermission(refs: string[]): Promise<void> {
    const seen = new Set<string>();
    for (const ref of refs) {
      const r = parseReference(ref);
      const key = `${r.registry}/${r.repository}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const s = await this.#session(r.registry, "push");
      try {
        await checkPushPermission(s, r.repository);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        throw new RegistryError(`no permission to push to ${key}: ${e.message} (checked before building; --skip-push-permission-check skips the check)`, { registry: r.registry, repository: r.repository, status: e.status, code: e.code, cause: e });
      }
      this.#log.debug(`push permission to ${key} confirmed`);
    }
  }

  async #pullFrom(r: Reference, platform: Platform): Promise<PullResult> {
    const refText = formatReference(r);
    const s = await this.#session(r.registry, "pull");
    const repo = r.repository;
    this.#log.debug("pulling manifest", { ref: refText, platform: formatPlatform(platform) });
    let m = await getManifest(s, repo, manifestSelector(r), refText);
    let indexDigest: string | undefined;
    if (isIndex(m.mediaType)) {
      indexDigest = m.digest;
      const idx = parseJson<Index>(m.bytes, `index of ${refText}`, r.registry);
      const chosen = selectPlatform(idx, platform, refText, r.registry);
      m = await getManifest(s, repo, chosen.digest, `${refText}@${chosen.digest}`);
      if (isIndex(m.mediaType)) {
        throw new RegistryError(`${refText} for ${formatPlatform(platform)} points to another index; nested indexes are not supported`, { registry: r.registry, repository: repo });
      }
    }
    // An index already chose the platform; a lone manifest is checked against it.
    const res = await this.#imageOf(s, r, m, indexDigest ? undefined : platform);
    return { ...res, ...(indexDigest ? { indexDigest } : {}) };
  }

  /**
   * The single manifest ref names, read from ref's own registry (no mirrors, no platform choice): the manifest
   * and the config only, with lazy layers whose origin is ref's repository. undefined when the registry has no
   * such manifest or repository: for stores kept in a registry (the layer cache), where absence is an answer.
   */
  async pullManifest(ref: string, opts: { configFrom?: (m: Manifest) => ImageConfig | undefined } = {}): Promise<PullResult | undefined> {
    const r = parseReference(ref);
    const refText = formatReference(r);
    const s = await this.#session(r.registry, "pull");
    let m: FetchedManifest;
    try {
      m = await getManifest(s, r.repository, manifestSelector(r), refText);
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return undefined;
      throw e;
    }
    if (isIndex(m.mediaType)) {
      throw new RegistryError(`${refText} is an index, not a single image manifest`, { registry: r.registry, repository: r.repository });
    }
    return this.#imageOf(s, r, m, undefined, opts.configFrom);
  }

  /**
   * The image of a single-platform manifest: its config is fetched (unless `configFrom` can tell it from the
   * manifest alone, a round trip less), its layers are left for their readers.
   */
  async #imageOf(s: Session, r: Reference, m: FetchedManifest, expected?: Platform, configFrom?: (m: Manifest) => ImageConfig | undefined): Promise<PullResult> {
    const refText = formatReference(r);
    const repo = r.repository;
    const manifest = asManifest(m.bytes, refText, r.registry);
    const config = configFrom?.(manifest) ?? parseJson<ImageConfig>(await readBlob(s, repo, manifest.config), `config of ${refText}`, r.registry);
    const diffIDs = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== manifest.layers.length) {
      throw new RegistryError(`${refText} is inconsistent: its manifest lists ${manifest.layers.length} layers but its config ${diffIDs.length} diff_ids`, { registry: r.registry, repository: repo });
    }
    if (expected && (config.os !== expected.os || config.architecture !== expected.architecture)) {
      this.#log.warn(`image ${refText} is for ${config.os}/${config.architecture}, not the requested ${formatPlatform(expected)}`);
    }
    const origin = { registry: r.registry, repository: repo };
    const layers: Layer[] = manifest.layers.map((d, i) => ({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      diffID: diffIDs[i],
      ...(d.annotations ? { annotations: d.annotations } : {}),
      origin,
      open: () => openBlob(s, repo, d),
      openUnverified: () => openBlob(s, repo, d, false),
    }));
    const format = (manifest.mediaType ?? m.mediaType) === MediaType.dockerManifest ? "docker" : "oci";
    const image: Image = { format, config, layers, ...(manifest.annotations ? { annotations: manifest.annotations } : {}) };
    return { image, digest: m.digest };
  }

  async push(image: Image, refs: string[]): Promise<{ digest: string }> {
    if (refs.length === 0) throw new RegistryError("no destination given for push: pass at least one --destination", { registry: "" });
    const started = performance.now();
    const ser = serializeImage(image);
    const digest = ser.manifestDescriptor.digest;
    const parsed = refs.map(parseReference);
    for (const r of parsed) {
      if (r.digest && r.digest !== digest) {
        throw new RegistryError(`cannot push to ${formatReference(r)}: the image's manifest digest is ${digest}`, { registry: r.registry, repository: r.repository });
      }
    }
    // Blobs go once per repository, however many tags it gets.
    const groups = new Map<string, Reference[]>();
    for (const r of parsed) {
      const k = `${r.registry}/${r.repository}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    // Every repository gets all its blobs before any tag is written, so a failed upload leaves no tag anywhere.
    for (const group of groups.values()) {
      const { registry, repository } = group[0];
      await this.#pushBlobs(await this.#session(registry, "push"), repository, image, ser.configBytes, ser.configDescriptor.digest);
    }
    for (const group of groups.values()) {
      const { registry } = group[0];
      const s = await this.#session(registry, "push");
      for (const r of group) await this.#putManifest(s, r, ser.manifestBytes, ser.manifestDescriptor.mediaType, digest);
    }
    this.#log.debug(`push of ${refs.join(", ")} done`, { layers: image.layers.length, pushMs: Math.round(performance.now() - started) });
    return { digest };
  }

  /**
   * Pushes each image by digest to every repository of `refs`, then the index under each reference: a tag points
   * at the index only once every manifest it names is there.
   */
  async pushIndex(images: readonly PlatformImage[], refs: string[]): Promise<{ digest: string }> {
    if (refs.length === 0) throw new RegistryError("no destination given for push: pass at least one --destination", { registry: "" });
    const index = serializeIndex(images);
    const digest = index.descriptor.digest;
    const parsed = refs.map(parseReference);
    for (const r of parsed) {
      if (r.digest && r.digest !== digest) {
        throw new RegistryError(`cannot push to ${formatReference(r)}: the image index's digest is ${digest}`, { registry: r.registry, repository: r.repository });
      }
    }
    const repos = [...new Set(parsed.map((r) => `${r.registry}/${r.repository}`))];
    for (const { image } of images) {
      const d = serializeImage(image).manifestDescriptor.digest;
      await this.push(image, repos.map((repo) => `${repo}@${d}`));
    }
    for (const r of parsed) await this.#putManifest(await this.#session(r.registry, "push"), r, index.bytes, index.descriptor.mediaType, digest);
    return { digest };
  }

  /** Puts a manifest or index under `r` (its tag, else its digest); a tag kept by --push-ignore-immutable-tag-errors is not logged as pushed. */
  async #putManifest(s: Session, r: Reference, bytes: Uint8Array, mediaType: string, digest: string): Promise<void> {
    const refText = formatReference(r);
    try {
      await putManifest(s, r.repository, r.tag ?? digest, bytes, mediaType, refText);
    } catch (e) {
      if (!(this.#o.ignoreImmutableTagErrors && isImmutableTagError(e))) throw e;
      this.#log.warn(`${refText} is an immutable tag the registry would not move; keeping it as it is (--push-ignore-immutable-tag-errors): ${(e as Error).message}`);
      return;
    }
    this.#log.info(`Pushed ${refText}`, { digest });
  }

  async #pushBlobs(s: Session, repo: string, image: Image, configBytes: Uint8Array, configDigest: string): Promise<void> {
    const seen = new Set<string>();
    const layers = image.layers.filter((l) => !seen.has(l.digest) && seen.add(l.digest));
    // The upload phase of the per-step timings (walk, diff, tar and compress are logged by the snapshot).
    const report = (what: string, digest: string, res: UploadResult, started: number) =>
      this.#log.debug(`${what} ${digest} ${res === "exists" ? "already present" : res}`, {
        registry: s.registry, repository: repo, uploadMs: Math.round(performance.now() - started),
      });
    // The config goes alongside the layers: it is small, and its round trips need not wait for theirs.
    const configStarted = performance.now();
    const config = pushBlob(s, repo, { digest: configDigest, size: configBytes.byteLength, body: () => configBytes }, this.#o.chunkSize)
      .then((res) => report("config", configDigest, res, configStarted));
    const blobs = eachLimited(layers, this.#o.pushConcurrency ?? 3, async (l) => {
      const started = performance.now();
      const placed = this.#placed.get(`${s.registry} ${l.digest}`);
      // One already on its way to another repository here is waited for, then mounted: its bytes move once.
      const mountFrom = l.origin && l.origin.registry === s.registry ? l.origin.repository
        : placed && placed.repository !== repo && await placed.done ? placed.repository : undefined;
      const pushed = pushBlob(s, repo, {
        digest: l.digest,
        size: l.size,
        // A local file goes to fetch as a Blob, which Bun sends without copying through JS.
        body: l.path ? () => Bun.file(l.path!) : () => l.open(),
        mountFrom,
        progress: l.digest.slice(0, 19),
      }, this.#o.chunkSize);
      if (!placed) this.#placed.set(`${s.registry} ${l.digest}`, { repository: repo, done: pushed.then(() => true, () => false) });
      report("layer", l.digest, await pushed, started);
    });
    await Promise.all([config, blobs]);
  }
}

/** The messages registries use when a tag may not be moved: kaniko's list (GAR, ECR) and Harbor's. */
const IMMUTABLE_TAG = [
  "The repository has enabled tag immutability",
  "cannot be overwritten because the repository is immutable",
  "configured as immutable",
];

function isImmutableTagError(e: unknown): boolean {
  return e instanceof RegistryError && e.status !== undefined && e.status < 500 && IMMUTABLE_TAG.some((m) => e.message.includes(m));
}

const HUB_ALIASES = new Set([DOCKER_HUB, "docker.io", "registry-1.docker.io"]);

/** The mirrors configured for a registry; Docker Hub may be named by any of its aliases. */
function mirrorsOf(map: Record<string, string[]>, registry: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(map)) {
    const key = k.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
    if (key === registry || (registry === DOCKER_HUB && HUB_ALIASES.has(key))) out.push(...v);
  }
  return out;
}

/** "mirror.example.com/prefix" + index.docker.io/library/busybox -> mirror.example.com/prefix/library/busybox */
function throughMirror(r: Reference, mirror: string): Reference {
  const m = mirror.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const slash = m.indexOf("/");
  const host = slash < 0 ? m : m.slice(0, slash);
  const prefix = slash < 0 ? "" : m.slice(slash + 1);
  return { ...r, registry: host, repository: prefix ? `${prefix}/${r.repository}` : r.repository };
}
