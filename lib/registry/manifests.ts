// Manifest GET/PUT and choosing one platform from an index or a Docker manifest list.
import { formatPlatform, MediaType, platformMatches, sha256, type Descriptor, type Index, type Manifest, type Platform } from "../image/mod.ts";
import { RegistryError } from "./errors.ts";
import { pullScope, pushScope } from "./blobs.ts";
import type { Session } from "./session.ts";

const ACCEPT = [
  MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
  MediaType.dockerSchema1Signed, MediaType.dockerSchema1,
].join(", ");

export interface FetchedManifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

/** The media type from the body when present (more trustworthy than Content-Type), else the header. */
function mediaTypeOf(bytes: Uint8Array, header: string | null): string {
  let parsed: { mediaType?: string; schemaVersion?: number; manifests?: unknown; config?: unknown } = {};
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // fall through to the header
  }
  if (parsed.mediaType) return parsed.mediaType;
  if (parsed.schemaVersion === 1) return MediaType.dockerSchema1;
  const h = header?.split(";")[0].trim();
  if (h && h !== "application/json" && h !== "text/plain") return h;
  // OCI allows omitting mediaType: tell index from manifest by shape.
  if (parsed.manifests) return MediaType.ociIndex;
  return MediaType.ociManifest;
}

export async function getManifest(s: Session, repo: string, selector: string, refText: string): Promise<FetchedManifest> {
  const action = `pulling manifest ${refText}`;
  const res = await s.request({ method: "GET", path: `/v2/${repo}/manifests/${selector}`, scopes: [pullScope(repo)], repository: repo, action, headers: { accept: ACCEPT } });
  if (!res.ok) throw await s.fail(res, action, repo);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const digest = sha256(bytes);
  if (selector.includes(":") && selector !== digest) {
    throw new RegistryError(`manifest of ${refText} from ${s.registry} has digest ${digest}, expected ${selector}; the registry or a proxy altered it`, { registry: s.registry, repository: repo, code: "DIGEST_MISMATCH" });
  }
  const mediaType = mediaTypeOf(bytes, res.headers.get("content-type"));
  if (mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed) {
    throw new RegistryError(`${refText} uses Docker image manifest schema 1, which kiln does not support: rebuild or re-push it with a current Docker or skopeo (schema 2 / OCI)`, { registry: s.registry, repository: repo, code: "SCHEMA1_UNSUPPORTED" });
  }
  return { bytes, mediaType, digest };
}

export function isIndex(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

/** Picks the manifest for `want`; attestation entries (platform unknown/unknown) never match. */
export function selectPlatform(index: Index, want: Platform, refText: string, registry: string): Descriptor {
  const entries = index.manifests.filter((d) => d.platform && d.platform.os !== "unknown");
  const exact = entries.find((d) => platformMatches(want, d.platform) && (!want.variant || d.platform!.variant === want.variant));
  const found = exact ?? entries.find((d) => platformMatches(want, d.platform));
  if (found) return found;
  const available = entries.map((d) => formatPlatform(d.platform!)).join(", ") || "none";
  throw new RegistryError(`${refText} has no image for platform ${formatPlatform(want)} (available: ${available}); build for one of those (--custom-platform, or --platform for several)`, { registry, code: "PLATFORM_NOT_FOUND" });
}

export function parseJson<T>(bytes: Uint8Array, what: string, registry: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new RegistryError(`${what} from ${registry} is not valid JSON (${(e as Error).message})`, { registry });
  }
}

export function asManifest(bytes: Uint8Array, refText: string, registry: string): Manifest {
  const m = parseJson<Manifest>(bytes, `manifest of ${refText}`, registry);
  if (!m.config || !Array.isArray(m.layers)) throw new RegistryError(`manifest of ${refText} from ${registry} has no config or layers`, { registry });
  return m;
}

export async function putManifest(s: Session, repo: string, selector: string, bytes: Uint8Array, mediaType: string, refText: string): Promise<string> {
  const action = `pushing manifest ${refText}`;
  const res = await s.request({
    method: "PUT", path: `/v2/${repo}/manifests/${selector}`, scopes: [pushScope(repo)], repository: repo, action,
    headers: { "content-type": mediaType }, body: () => bytes,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await s.fail(res, action, repo);
  await res.arrayBuffer().catch(() => {});
  return sha256(bytes);
}
