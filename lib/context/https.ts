// http(s):// downloads: a plain tarball context, and a --dockerfile given as a URL (kaniko downloads it too).
// TLS: the built-in roots plus the CA files the build trusts for registries (SSL_CERT_FILE, SSL_CERT_DIR,
// <kaniko dir>/ssl/certs), so one trust store serves both.
import { rootCertificates } from "node:tls";
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ContextError } from "./errors.ts";
import type { ArchiveSource, ContextFetchOptions } from "./source.ts";

async function get(url: string, what: string, opts: Pick<ContextFetchOptions, "caFiles" | "signal">): Promise<Response> {
  const extra = await Promise.all((opts.caFiles ?? []).map((f) => Bun.file(f).text()));
  // Setting `ca` replaces the default trust store, so the built-in roots go first.
  const tls = extra.length ? { ca: [...rootCertificates, ...extra].join("\n") } : undefined;
  let res: Response;
  try {
    res = await fetch(url, { signal: opts.signal, ...(tls ? { tls } : {}) } as RequestInit);
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ContextError(`${what} ${url}: cannot download it: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok || !res.body) {
    void res.body?.cancel();
    throw new ContextError(`${what} ${url}: the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  }
  return res;
}

/** https://host/context.tar.gz (and http://): the body, streamed. */
export async function fetchHttpsTarball(spec: string, opts: ContextFetchOptions): Promise<ArchiveSource> {
  const res = await get(spec, "--context", opts);
  return { stream: res.body!, describe: spec };
}

/** Downloads --dockerfile URL to `dest` (a file in the build's work directory), streamed. */
export async function downloadDockerfile(url: string, dest: string, opts: Pick<ContextFetchOptions, "caFiles" | "signal">): Promise<void> {
  const res = await get(url, "--dockerfile", opts);
  await pipeline(Readable.fromWeb(res.body! as any), createWriteStream(dest));
}
