// Writing images to local formats: OCI image layout directories and docker-archive tarballs.
// Both are written beside their destination and renamed into place, so a failure leaves nothing half-written.
import { mkdir, rename, rm, writeFile, link, copyFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { dirname, basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { Image, Layer } from "./image.ts";
import { serializeImage } from "./image.ts";
import { digestHex } from "./digest.ts";
import { MediaType } from "./types.ts";

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.kiln-tmp-${process.pid}-${Date.now()}`);
}

async function writeBlobFile(layer: Layer, dest: string): Promise<void> {
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
  const ser = serializeImage(img);
  const tmp = tempSibling(dir);
  await mkdir(join(tmp, "blobs", "sha256"), { recursive: true });
  try {
    const blob = (d: string) => join(tmp, "blobs", "sha256", digestHex(d));
    const written = new Set<string>();
    for (const l of img.layers) {
      if (written.has(l.digest)) continue;
      written.add(l.digest);
      await writeBlobFile(l, blob(l.digest));
    }
    await writeFile(blob(ser.configDescriptor.digest), ser.configBytes);
    await writeFile(blob(ser.manifestDescriptor.digest), ser.manifestBytes);
    await writeFile(join(tmp, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const desc = {
      ...ser.manifestDescriptor,
      ...(opts.refName ? { annotations: { "org.opencontainers.image.ref.name": opts.refName } } : {}),
    };
    await writeFile(join(tmp, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [desc] }));
    await replaceDir(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return ser.manifestDescriptor.digest;
}

async function replaceDir(from: string, to: string): Promise<void> {
  const old = tempSibling(to) + "-old";
  let moved = false;
  try { await rename(to, old); moved = true; } catch (e: any) { if (e.code !== "ENOENT") throw e; }
  await rename(from, to);
  if (moved) await rm(old, { recursive: true, force: true });
}

/** Writes a `docker save`-style tarball loadable by `docker load`, tagged with every name in `tags`. */
export async function writeDockerArchive(img: Image, path: string, tags: string[]): Promise<void> {
  const ser = serializeImage(img);
  const tmp = tempSibling(path);
  const pack = tar.pack();
  const out = pipeline(pack, createWriteStream(tmp));
  const add = (name: string, data: Uint8Array | string) =>
    new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, Buffer.from(data as any), (e) => (e ? rej(e) : res())));
  try {
    const configName = `${digestHex(ser.configDescriptor.digest)}.json`;
    await add(configName, ser.configBytes);
    const names: string[] = [];
    for (const l of img.layers) {
      const name = `${digestHex(l.digest)}.tar${l.mediaType.endsWith("zstd") ? ".zst" : l.mediaType.endsWith("gzip") ? ".gz" : ""}`;
      names.push(name);
      if (names.indexOf(name) !== names.length - 1) continue;
      await new Promise<void>(async (res, rej) => {
        const entry = pack.entry({ name, size: l.size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
        try { await pipeline(Readable.fromWeb((await l.open()) as any), entry); } catch (e) { rej(e); }
      });
    }
    await add("manifest.json", JSON.stringify([{ Config: configName, RepoTags: tags, Layers: names }]));
    pack.finalize();
    await out;
    await rename(tmp, path);
  } catch (e) {
    pack.destroy();
    await out.catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}
