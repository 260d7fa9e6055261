// Reading and writing blobs: verified streaming downloads, existence checks, cross-repo mounts, monolithic uploads.
import type { Progress } from "../log/mod.ts";
import { RegistryError } from "./errors.ts";
import { Session, type RetryWith } from "./session.ts";

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
  const reader = body.getReader();
  // A pull source reading the body directly: pipeThrough a TransformStream cost several promise hops
  // per chunk, about 0.45 s of the reading thread for a 400 MB layer (BENCHMARKS.md).
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await reader.read();
      if (r.done) {
        if (expected.size !== undefined && seen !== expected.size) {
          controller.error(new RegistryError(`${describe()}: received ${seen} bytes from ${registry}, expected ${expected.size}`, { registry, code: "SIZE_MISMATCH" }));
          return;
        }
        const got = `sha256:${hasher.digest("hex")}`;
        if (got !== expected.digest) {
          controller.error(new RegistryError(`${describe()}: content from ${registry} has digest ${got}, expected ${expected.digest}; the registry or a proxy altered it`, { registry, code: "DIGEST_MISMATCH" }));
          return;
        }
        controller.close();
        return;
      }
      const chunk = r.value;
      seen += chunk.byteLength;
      if (expected.size !== undefined && seen > expected.size) {
        controller.error(new RegistryError(`${describe()}: received more than the expected ${expected.size} bytes from ${registry}`, { registry, code: "SIZE_MISMATCH" }));
        await reader.cancel().catch(() => {});
        return;
      }
      hasher.update(chunk);
      controller.enqueue(chunk);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The blob's bytes, checked against its digest and size as they stream (unless verify is false: the caller checks). */
export async function openBlob(s: Session, repo: string, desc: { digest: string; size?: number }, verify = true): Promise<ReadableStream<Uint8Array>> {
  const action = `pulling blob ${desc.digest}`;
  const res = await s.request({ method: "GET", path: `/v2/${repo}/blobs/${desc.digest}`, scopes: [pullScope(repo)], repository: repo, action });
  if (!res.ok || !res.body) throw await s.fail(res, action, repo);
  return verify ? verifyingStream(res.body, desc, () => `blob ${desc.digest} of ${repo}`, s.registry) : res.body;
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
async function startUpload(s: Session, repo: string, digest: string | undefined, mountFrom?: string): Promise<string | undefined> {
  const scopes = mountFrom ? [pushScope(repo), pullScope(mountFrom)] : [pushScope(repo)];
  const q = mountFrom && digest ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : "";
  const action = mountFrom ? `mounting blob ${digest} from ${mountFrom}` : digest ? `starting upload of blob ${digest}` : "starting an upload";
  const res = await s.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/${q}`, scopes, repository: repo, action, headers: { "content-length": "0" } });
  if (res.status === 201) {
    await res.arrayBuffer().catch(() => {});
    return undefined;
  }
  if (res.status !== 202) throw await s.fail(res, action, repo);
  await res.arrayBuffer().catch(() => {});
  return uploadLocation(s, repo, res);
}

function uploadLocation(s: Session, repo: string, res: Response): string {
  const loc = res.headers.get("location");
  if (!loc) throw new RegistryError(`registry ${s.registry} answered an upload request for ${repo} without a Location header`, { registry: s.registry, repository: repo });
  return new URL(loc, s.baseUrl + "/").toString();
}

/**
 * Proves the credentials may push to repo by starting an upload and cancelling it (what kaniko's
 * CheckPushPermission does), so a build does not run for minutes only to fail at the push.
 */
export async function checkPushPermission(s: Session, repo: string): Promise<void> {
  const location = await startUpload(s, repo, undefined);
  const res = await s.request({ method: "DELETE", path: location!, scopes: [pushScope(repo)], repository: repo, action: "cancelling the permission-check upload" });
  // Some registries do not implement cancelling; the unused upload then expires on its own.
  await res.arrayBuffer().catch(() => {});
}

export interface BlobSource {
  digest: string;
  size: number;
  /** The bytes; called again on retry. A Blob (e.g. Bun.file) lets fetch send the file directly. */
  body: () => Promise<Bun.BodyInit> | Bun.BodyInit;
  /** A repository on this registry that already holds the blob. */
  mountFrom?: string;
  /** Report the upload's progress under this name (a layer's digest); small blobs (the config) go without. */
  progress?: string;
}

export type UploadResult = "exists" | "mounted" | "uploaded" | "uploaded in chunks";

/** Statuses with which a registry or a proxy in front of it refuses a whole blob in one PUT. */
const MONOLITHIC_REFUSED = new Set([405, 413, 501]);
const MIN_CHUNK = 256 * 1024;

export async function pushBlob(s: Session, repo: string, source: BlobSource, chunkSize = 16 * 1024 * 1024): Promise<UploadResult> {
  if (await blobExists(s, repo, source.digest)) return "exists";
  // Counting the bytes means streaming them through JS rather than handing fetch the file (slower: not benchmarked, a
  // hand check on loopback lost about a third): only for a live terminal line. Otherwise the final line counts the
  // whole blob once it is sent.
  // Started at the first byte asked for, so a blob the registry mounts shows no progress.
  let progress: Progress | undefined;
  const counted = async () => {
    progress ??= s.logger.progress("push", { subject: source.progress, total: source.size });
    progress.reset();
    return progress.live ? countedBody(await source.body(), progress.update) : source.body();
  };
  const b = source.progress !== undefined && s.logger.enabled("info") ? { ...source, body: counted } : source;
  try {
    const res = await uploadBlob(s, repo, b, chunkSize);
    if (res === "mounted") progress?.cancel();
    else {
      if (progress && !progress.live) progress.update(source.size);
      progress?.done();
    }
    return res;
  } catch (e) {
    progress?.cancel();
    throw e;
  }
}

/** The bytes of `body` as a stream that reports each chunk's size as fetch takes it. */
function countedBody(body: Bun.BodyInit, counted: (n: number) => void): ReadableStream<Uint8Array> {
  const reader = (body instanceof Blob ? body.stream() : new Response(body).body!).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await reader.read();
      if (r.done) return controller.close();
      counted(r.value.byteLength);
      controller.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

async function uploadBlob(s: Session, repo: string, b: BlobSource, chunkSize: number): Promise<UploadResult> {
  // The upload is retried as a whole: a PUT cut off midway may have left bytes in its upload session.
  return s.retrying(`uploading blob ${b.digest}`, async (): Promise<UploadResult | RetryWith> => {
    const location = await startUpload(s, repo, b.digest, b.mountFrom && b.mountFrom !== repo ? b.mountFrom : undefined);
    if (!location) return "mounted";
    const url = new URL(location);
    url.searchParams.set("digest", b.digest);
    const action = `uploading blob ${b.digest}`;
    let res: Response;
    try {
      res = await s.request({
        method: "PUT", path: url.toString(), scopes: [pushScope(repo)], repository: repo, action, body: b.body, retry: false,
        headers: { "content-type": "application/octet-stream", "content-length": String(b.size) },
      });
    } catch (e) {
      if (Session.transient(e)) return { retry: e };
      throw e;
    }
    if (res.status === 201 || res.status === 204 || res.status === 200) {
      await res.arrayBuffer().catch(() => {});
      return "uploaded";
    }
    if (!MONOLITHIC_REFUSED.has(res.status)) {
      const err = await s.fail(res, action, repo);
      if (Session.transient(err)) return { retry: err };
      throw err;
    }
    await res.arrayBuffer().catch(() => {});
    s.logger.debug(`registry ${s.registry} refused a one-request upload (${res.status}); uploading ${b.digest} in chunks`);
    await pushChunked(s, repo, b, chunkSize);
    return "uploaded in chunks";
  });
}

/** The distribution spec's chunked upload: PATCH ranges in order, then PUT ?digest= with no body. */
async function pushChunked(s: Session, repo: string, b: BlobSource, chunkSize: number): Promise<void> {
  let location = (await startUpload(s, repo, b.digest))!;
  const body = await b.body();
  const reader = new ChunkReader(body instanceof Blob ? body.stream() : new Response(body).body!);
  let offset = 0;
  let size = Math.max(chunkSize, MIN_CHUNK);
  for (;;) {
    const chunk = await reader.read(size);
    if (chunk.byteLength === 0) break;
    const action = `uploading bytes ${offset}-${offset + chunk.byteLength - 1} of blob ${b.digest}`;
    const res = await s.request({
      method: "PATCH", path: location, scopes: [pushScope(repo)], repository: repo, action, body: () => chunk,
      headers: {
        "content-type": "application/octet-stream", "content-length": String(chunk.byteLength),
        "content-range": `${offset}-${offset + chunk.byteLength - 1}`,
      },
    });
    // A proxy with a body limit refuses before the registry sees anything: try again with smaller pieces.
    if (res.status === 413 && size > MIN_CHUNK) {
      await res.arrayBuffer().catch(() => {});
      size = Math.max(MIN_CHUNK, size >> 1);
      reader.unread(chunk);
      continue;
    }
    if (res.status !== 202 && res.status !== 204) throw await s.fail(res, action, repo);
    await res.arrayBuffer().catch(() => {});
    location = uploadLocation(s, repo, res);
    offset += chunk.byteLength;
  }
  if (offset !== b.size) {
    throw new RegistryError(`blob ${b.digest} has ${offset} bytes, expected ${b.size}; its source changed during the push`, { registry: s.registry, repository: repo, code: "SIZE_MISMATCH" });
  }
  const url = new URL(location);
  url.searchParams.set("digest", b.digest);
  const action = `completing the chunked upload of blob ${b.digest}`;
  const res = await s.request({ method: "PUT", path: url.toString(), scopes: [pushScope(repo)], repository: repo, action, headers: { "content-length": "0" } });
  if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await s.fail(res, action, repo);
  await res.arrayBuffer().catch(() => {});
}

/** Reads a byte stream in pieces of a requested size; a piece can be given back to be read again in smaller ones. */
class ChunkReader {
  #reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> };
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  unread(chunk: Uint8Array): void {
    this.#pending.unshift(chunk);
    this.#pendingBytes += chunk.byteLength;
  }

  async read(n: number): Promise<Uint8Array> {
    while (this.#pendingBytes < n && !this.#done) {
      const { done, value } = await this.#reader.read();
      if (done) this.#done = true;
      else if (value?.byteLength) {
        this.#pending.push(value);
        this.#pendingBytes += value.byteLength;
      }
    }
    const take = Math.min(n, this.#pendingBytes);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const head = this.#pending[0];
      const want = take - filled;
      if (head.byteLength <= want) {
        out.set(head, filled);
        filled += head.byteLength;
        this.#pending.shift();
      } else {
        out.set(head.subarray(0, want), filled);
        this.#pending[0] = head.subarray(want);
        filled += want;
      }
    }
    this.#pendingBytes -= take;
    return out;
  }
}
