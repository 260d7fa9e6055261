// The content digest of what a COPY/ADD (or a RUN --mount=type=bind) takes from the build context, for the
// layer cache's keys. It resolves and filters sources with COPY's own code (resolveSource, SourceFilter) and walks
// them as COPY's copy does, so it covers exactly the entries COPY writes and what COPY keeps of each: the path,
// the type, the permission bits, the content, a symlink's target (a source that is itself a symlink is followed,
// so its target's content counts, as COPY copies it: a ConfigMap context). Left out, because COPY does not carry them
// from the context: modification times (BuildKit's keys ignore them too) and owners (COPY sets 0:0, or --chown,
// which is part of the instruction).
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";
import { join } from "node:path";
import { createHash, type Hash } from "node:crypto";
import { ContextError, type BuildContext } from "./context.ts";
import { resolveSource, type ResolvedSource } from "./sources.ts";
import { SourceFilter } from "./selection.ts";

const CHUNK = 1 << 20;

/**
 * `sha256:<hex>` over the entries COPY would copy for `sources` (as written, expanded; URLs and git sources left
 * out by the caller) from the context, after .dockerignore and `exclude` (--exclude). A source that resolves to
 * nothing or cannot be resolved is recorded as such, not thrown: running the step reports it with its own words.
 * Reads files synchronously, one 1 MiB chunk at a time, as COPY itself copies.
 */
export function contextSourcesDigest(context: Pick<BuildContext, "dir" | "ignore">, sources: readonly string[], exclude: readonly string[] = []): string {
  const filter = new SourceFilter(context.ignore, exclude);
  const out = new Framer();
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const spec of sources) {
    out.tokens("source", spec);
    let found: ResolvedSource[];
    try {
      found = resolveSource(context.dir, spec, context.ignore, "COPY");
    } catch (e) {
      if (!(e instanceof ContextError)) throw e;
      out.tokens("unresolved");
      continue;
    }
    for (const src of found) {
      if (!filter.keepSource(src)) continue;
      out.tokens("resolved", src.rel, src.isDir ? "dir" : "other");
      if (src.isDir) walk(src, src.abs, "", filter, out, buf);
      else entry(src, src.abs, "", filter, out, buf);
    }
  }
  return `sha256:${out.digest()}`;
}

function walk(src: ResolvedSource, dir: string, sub: string, filter: SourceFilter, out: Framer, buf: Buffer): void {
  for (const name of readdirSync(dir).sort()) entry(src, join(dir, name), sub ? `${sub}/${name}` : name, filter, out, buf);
}

// Mirrors copy-files.ts's copyEntry: lstat, the include test, then directories, symlinks and regular files;
// sockets, devices and FIFOs are not copied, so they are not recorded.
function entry(src: ResolvedSource, abs: string, sub: string, filter: SourceFilter, out: Framer, buf: Buffer): void {
  const st = lstatSync(abs);
  if (!filter.keepEntry(src, sub, st.isDirectory())) return;
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isDirectory()) {
    out.tokens("entry", sub, "dir", mode, "");
    walk(src, abs, sub, filter, out, buf);
  } else if (st.isSymbolicLink()) {
    out.tokens("entry", sub, "symlink", mode, readlinkSync(abs));
  } else if (st.isFile()) {
    out.tokens("entry", sub, "file", mode, fileSha256(abs, buf));
  }
}

function fileSha256(path: string, buf: Buffer): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** An unambiguous token stream: every token is its UTF-8 byte length (4 bytes, big-endian) and its bytes. */
class Framer {
  readonly #hash: Hash = createHash("sha256");
  readonly #len = Buffer.alloc(4);
  tokens(...tokens: string[]): void {
    for (const t of tokens) {
      const bytes = Buffer.from(t, "utf8");
      this.#len.writeUInt32BE(bytes.length);
      this.#hash.update(this.#len);
      this.#hash.update(bytes);
    }
  }
  digest(): string {
    return this.#hash.digest("hex");
  }
}
