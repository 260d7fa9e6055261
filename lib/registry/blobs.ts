// Reading and writing blobs: verified streaming downloads, existence checks, cross-repo mounts, monolithic uploads.
import { RegistryError } from "./errors.ts";
import type { Session } from "./session.ts";

export const pullScope = (repo: string) => `repository:${repo}:pull`;
export const pushScope = (repo: string) => `repository:${repo}:pull,push`;

/** Passes bytes through while hashing; errors the stream if the size or digest differ from what was promised. */
export function verifyingStream(body: ReadableStream<Uint8Array>, expected: { digest: string; size?: number }, describe: () => string, registry: string): ReadableStream<Uint8Array> {
  const [algo] = expected.digest.split(":");
  if (algo !== "sha256") {
    throw new RegistryError(`${describe()}: unsupported digest algorithm "${algo}" (only sha256)`, { registry });
  }
  const hasher = new Bun.CryptoHasher("sha256");
  let seen = 0;
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (expected.size !== undefined && seen > expected.size) {
        controller.error(new RegistryError(`${describe()}: received more than the expected ${expected.size} bytes from ${registry}`, { registry, code: "SIZE_MISMATCH" }));
        return;
      }
      hasher.update(chunk);
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (expected.size !== undefined && seen !== expected.size) {
        controller.error(new RegistryError(`${describe()}: received ${seen} bytes from ${registry}, expected ${expected.size}`, { registry, code: "SIZE_MISMATCH" }));
        return;
      }
      const got = `sha256:${hasher.digest("hex")}`;
      if (got !== expected.digest) {
        controller.error(new RegistryError(`${describe()}: content from ${registry} has digest ${got}, expected ${expected.digest}; the registry or a proxy altered it`, { registry, code: "DIGEST_MISMATCH" }));
      }
    },
  }));
}

export async function openBlob(s: Session, repo: string, desc: { digest: string; size?: number }): Promise<ReadableStream<Uint8Array>> {
  const action = `pulling blob ${desc.digest}`;
  const res = await s.request({ method: "GET", path: `/v2/${repo}/blobs/${desc.digest}`, scopes: [pullScope(repo)], repository: repo, action });
  if (!res.ok || !res.body) throw await s.fail(res, action, repo);
  return verifyingStream(res.body, desc, () => `blob ${desc.digest} of ${repo}`, s.registry);
}

export async function readBlob(s: Session, repo: string, desc: { digest: string; size?: number }): Promise<Uint8Array> {
  return new Uint8Array(await new Response(await openBlob(s, repo, desc)).arrayBuffer());
}

export async function blobExists(s: Session, repo: string, digest: string): Promise<boolean> {
  const action = `checking blob ${digest}`;
  const res = await s.request({ method: "HEAD", path: `/v2/${repo}/blobs/${digest}`, scopes: [pushScope(repo)], repository: repo, action });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await s.fail(res, action, repo);
}

/** Starts an upload, or mounts the blob from another repository of the same registry. Returns undefined when mounted. */
async function startUpload(s: Session, repo: string, digest: string, mountFrom?: string): Promise<string | undefined> {
  const scopes = mountFrom ? [pushScope(repo), pullScope(mountFrom)] : [pushScope(repo)];
  const q = mountFrom ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : "";
  const action = mountFrom ? `mounting blob ${digest} from ${mountFrom}` : `starting upload of blob ${digest}`;
  const res = await s.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/${q}`, scopes, repository: repo, action, headers: { "content-length": "0" } });
  await res.arrayBuffer().catch(() => {});
  if (res.status === 201) return undefined;
  if (res.status !== 202) throw await s.fail(res, action, repo);
  const loc = res.headers.get("location");
  if (!loc) throw new RegistryError(`registry ${s.registry} started an upload for ${repo} without a Location header`, { registry: s.registry, repository: repo });
  return new URL(loc, s.baseUrl + "/").toString();
}

export interface BlobSource {
  digest: string;
  size: number;
  /** The bytes; called again on retry. A Blob (e.g. Bun.file) lets fetch send the file directly. */
  body: () => Promise<Bun.BodyInit> | Bun.BodyInit;
  /** A repository on this registry that already holds the blob. */
  mountFrom?: string;
}

export type UploadResult = "exists" | "mounted" | "uploaded";

export async function pushBlob(s: Session, repo: string, b: BlobSource): Promise<UploadResult> {
  if (await blobExists(s, repo, b.digest)) return "exists";
  let location = await startUpload(s, repo, b.digest, b.mountFrom && b.mountFrom !== repo ? b.mountFrom : undefined);
  if (!location) return "mounted";
  const url = new URL(location);
  url.searchParams.set("digest", b.digest);
  const action = `uploading blob ${b.digest}`;
  const res = await s.request({
    method: "PUT", path: url.toString(), scopes: [pushScope(repo)], repository: repo, action, body: b.body,
    headers: { "content-type": "application/octet-stream", "content-length": String(b.size) },
  });
  await (res.ok ? res.arrayBuffer().catch(() => {}) : Promise.resolve());
  if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await s.fail(res, action, repo);
  return "uploaded";
}
