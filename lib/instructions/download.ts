// ADD's http(s) download: the body streams to a file in the build's tmp dir while it is hashed, so a body of
// any size costs one chunk of memory; a body shorter than its Content-Length is an error, not a short file.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

export class DownloadError extends Error {
  override name = "DownloadError";
}

export interface Downloaded {
  /** sha256 of the bytes written, hex. */
  sha256: string;
  size: number;
  /** From Last-Modified, when the server sent a valid one. */
  mtime?: Date;
}

/** Downloads `url` into `file` (created, mode 0600). Messages name the URL; the caller adds the instruction. */
export async function downloadTo(url: string, file: string, signal?: AbortSignal): Promise<Downloaded> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: "follow", ...(signal ? { signal } : {}) });
  } catch (e) {
    throw new DownloadError(`downloading ${url} failed: ${(e as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new DownloadError(`downloading ${url} failed: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  // fetch undoes a Content-Encoding, and then the header counts the encoded bytes, not the ones received.
  const encoded = (res.headers.get("content-encoding") ?? "identity").toLowerCase() !== "identity";
  const lengthHeader = res.headers.get("content-length");
  const expected = !encoded && lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const hash = createHash("sha256");
  let size = 0;
  const out = await open(file, "wx", 0o600);
  try {
    if (res.body) {
      try {
        for await (const chunk of res.body) {
          hash.update(chunk);
          size += chunk.byteLength;
          for (let off = 0; off < chunk.byteLength;) off += (await out.write(chunk, off)).bytesWritten;
        }
      } catch (e) {
        // A write failure (ENOSPC ...) keeps its code for the CLI; a read failure is the connection's.
        if ((e as NodeJS.ErrnoException).syscall === "write") throw e;
        const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new DownloadError(expected !== undefined
          ? `downloading ${url}: the server closed the connection after ${size} of ${expected} bytes`
          : `downloading ${url}: the connection failed after ${size} bytes (${why})`);
      }
    }
  } finally {
    await out.close();
  }
  if (expected !== undefined && size !== expected) {
    throw new DownloadError(`downloading ${url}: the server sent ${size} of ${expected} bytes`);
  }
  const lm = res.headers.get("last-modified");
  const mtime = lm ? new Date(lm) : undefined;
  return { sha256: hash.digest("hex"), size, ...(mtime && !Number.isNaN(mtime.getTime()) ? { mtime } : {}) };
}
