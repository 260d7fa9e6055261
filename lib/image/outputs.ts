// Writing images to local formats: OCI image layout directories and docker-archive tarballs.
// Everything is written beside its destination and renamed into place (OutputStage), so a failure
// leaves nothing half-written and what was at the destination before stays.
import { closeSync, cpSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { mkdir, writeFile, link, copyFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { dirname, basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Image, Layer } from "./image.ts";
import { serializeImage } from "./image.ts";
import { digestHex } from "./digest.ts";
import { MediaType } from "./types.ts";

let tempCount = 0;
function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.kiln-tmp-${process.pid}-${Date.now()}-${tempCount++}`);
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Makes `dest` hold what `src` holds without replacing `dest` itself (its inode, or the mount on it, stays). */
function overwriteInPlace(src: string, dest: string): void {
  if (statSync(src).isDirectory()) {
    for (const name of readdirSync(dest)) rmSync(join(dest, name), { recursive: true, force: true });
    for (const name of readdirSync(src)) cpSync(join(src, name), join(dest, name), { recursive: true, verbatimSymlinks: true });
    return;
  }
  const from = openSync(src, "r");
  const to = openSync(dest, "w"); // O_TRUNC on the file that is there, not a new one
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(from, buf)) > 0;) for (let off = 0; off < n;) off += writeSync(to, buf, off, n - off);
  } finally {
    closeSync(from);
    closeSync(to);
  }
}

type Committed = { dest: string; old: string | undefined; inPlace: boolean };

/**
 * Outputs written beside their destinations and moved into place together. Until commit() no
 * destination changes; a commit that fails half-way puts back what was there, and discard()
 * removes whatever was staged. A destination that cannot be renamed over (a mount point, such as
 * a bind-mounted /dev/termination-log: EBUSY or EXDEV) is overwritten in place instead, after every
 * rename succeeded. Commit and discard are synchronous, so a signal handler never sees one half-done.
 */
export class OutputStage {
  #staged: { tmp: string; dest: string }[] = [];

  /** Where to write the output meant for `dest`. */
  path(dest: string): string {
    const tmp = tempSibling(dest);
    this.#staged.push({ tmp, dest });
    return tmp;
  }

  commit(): void {
    const done: Committed[] = [];
    const mountPoints: { tmp: string; dest: string }[] = [];
    try {
      for (const s of this.#staged) {
        let old: string | undefined = tempSibling(s.dest) + "-old";
        try {
          renameSync(s.dest, old);
        } catch (e) {
          if (errno(e) === "EBUSY" || errno(e) === "EXDEV") { mountPoints.push(s); continue; }
          if (errno(e) !== "ENOENT") throw e;
          old = undefined;
        }
        done.push({ dest: s.dest, old, inPlace: false });
        renameSync(s.tmp, s.dest);
      }
      for (const s of mountPoints) {
        const old = tempSibling(s.dest) + "-old";
        cpSync(s.dest, old, { recursive: true, verbatimSymlinks: true });
        done.push({ dest: s.dest, old, inPlace: true });
        overwriteInPlace(s.tmp, s.dest);
      }
    } catch (e) {
      for (const { dest, old, inPlace } of done.reverse()) {
        try {
          if (inPlace) overwriteInPlace(old!, dest);
          else {
            rmSync(dest, { recursive: true, force: true });
            if (old !== undefined) renameSync(old, dest);
          }
        } catch { /* best effort: the first error is the one to report */ }
      }
      for (const { old } of done) if (old !== undefined) rmSync(old, { recursive: true, force: true });
      this.discard();
      throw e;
    }
    for (const { old } of done) if (old !== undefined) rmSync(old, { recursive: true, force: true });
    this.discard(); // the staged copies of the destinations written in place
  }

  discard(): void {
    for (const { tmp } of this.#staged) rmSync(tmp, { recursive: true, force: true });
    this.#staged = [];
  }
}

// One output written through its own stage.
async function staged(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const stage = new OutputStage();
  try {
    await write(stage.path(dest));
    stage.commit();
  } catch (e) {
    stage.discard();
    throw e;
  }
}

/** Whether `dir` is an OCI image layout (holds its `oci-layout` marker file), i.e. something kiln may replace. */
export function isOciLayout(dir: string): boolean {
  try {
    return statSync(join(dir, "oci-layout")).isFile();
  } catch {
    return false;
  }
}

export async function writeBlobFile(layer: Layer, dest: string): Promise<void> {
  if (layer.path) {
    // Same filesystem: a hard link costs nothing; else copy.
    try { await link(layer.path, dest); return; } catch { await copyFile(layer.path, dest); return; }
  }
  await pipeline(Readable.fromWeb((await layer.open()) as any), createWriteStream(dest));
}

export interface OciLayoutOptions {
  /** Value for org.opencontainers.image.ref.name, so tools can address the image as `oci:DIR:NAME`. */
  refName?: string;
}

/** Writes `img` as the only image of an OCI layout at `dir` (replacing what was there). */
export async function writeOciLayout(img: Image, dir: string, opts: OciLayoutOptions = {}): Promise<string> {
  let digest = "";
  await staged(dir, async (tmp) => { digest = await writeOciLayoutAt(img, tmp, opts); });
  return digest;
}

/** Writes `img` as an OCI layout into the new directory `dir` (see OutputStage for putting it in place). */
export async function writeOciLayoutAt(img: Image, dir: string, opts: OciLayoutOptions = {}): Promise<string> {
  const ser = serializeImage(img);
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const blob = (d: string) => join(dir, "blobs", "sha256", digestHex(d));
  const written = new Set<string>();
  for (const l of img.layers) {
    if (written.has(l.digest)) continue;
    written.add(l.digest);
    await writeBlobFile(l, blob(l.digest));
  }
  await writeFile(blob(ser.configDescriptor.digest), ser.configBytes);
  await writeFile(blob(ser.manifestDescriptor.digest), ser.manifestBytes);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const desc = {
    ...ser.manifestDescriptor,
    ...(opts.refName ? { annotations: { "org.opencontainers.image.ref.name": opts.refName } } : {}),
  };
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [desc] }));
  return ser.manifestDescriptor.digest;
}

/** One file of a docker-archive, in the shape lib/layer's tar writer takes. */
export interface DockerArchiveEntry {
  header: { name: string; type: "file"; mode: number; uid: number; gid: number; size: number; mtime: Date };
  body: Uint8Array | AsyncIterable<Uint8Array>;
}

/**
 * Turns entries into tar bytes. The caller passes lib/layer's tarStream (the project's one tar writer), which
 * lib/image may not import (ARCHITECTURE.md: image and layer import nothing of ours).
 */
export type TarWriter = (entries: AsyncIterable<DockerArchiveEntry>) => AsyncIterable<Uint8Array>;

/** Writes a `docker save`-style tarball loadable by `docker load`, tagged with every name in `tags`. */
export async function writeDockerArchive(img: Image, path: string, tags: string[], tar: TarWriter): Promise<void> {
  await staged(path, (tmp) => writeDockerArchiveAt(img, tmp, tags, tar));
}

/** writeDockerArchive to a new file `path` (see OutputStage for putting it in place). */
export async function writeDockerArchiveAt(img: Image, path: string, tags: string[], tar: TarWriter): Promise<void> {
  await pipeline(Readable.from(tar(dockerArchiveEntries(img, tags))), createWriteStream(path));
}

// The files of `docker save`'s format: the config, each distinct layer blob (opened only when its turn comes), and
// manifest.json; fixed modes, owners and times, so the same image always gives the same bytes.
async function* dockerArchiveEntries(img: Image, tags: string[]): AsyncGenerator<DockerArchiveEntry> {
  const ser = serializeImage(img);
  const file = (name: string, size: number, body: DockerArchiveEntry["body"]): DockerArchiveEntry =>
    ({ header: { name, type: "file", mode: 0o644, uid: 0, gid: 0, size, mtime: new Date(0) }, body });
  const configName = `${digestHex(ser.configDescriptor.digest)}.json`;
  yield file(configName, ser.configBytes.byteLength, ser.configBytes);
  const names: string[] = [];
  for (const l of img.layers) {
    const name = `${digestHex(l.digest)}.tar${l.mediaType.endsWith("zstd") ? ".zst" : l.mediaType.endsWith("gzip") ? ".gz" : ""}`;
    names.push(name);
    if (names.indexOf(name) !== names.length - 1) continue;
    yield file(name, l.size, (async function* () { yield* Readable.fromWeb((await l.open()) as any) as AsyncIterable<Uint8Array>; })());
  }
  const manifest = new TextEncoder().encode(JSON.stringify([{ Config: configName, RepoTags: tags, Layers: names }]));
  yield file("manifest.json", manifest.byteLength, manifest);
}
