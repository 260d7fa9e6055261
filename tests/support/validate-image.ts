// Checks an image the way go-containerregistry's validate.Image does, with tools that share no code with kiln
// (gzip and zstd decompress, sha256 is Bun's): every blob hashes to its digest and has its size, every layer's bytes
// are what its media type says (gzip, zstd or plain tar), the config's diffIDs are the hashes of the uncompressed
// layers, the history counts one non-empty entry per layer, manifest and config agree on their schema and the
// index's platform. Each check returns the problems it found, one readable line each; [] means valid.
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryFlags, runTool, type RegistryAccess } from "./image-assert.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const INDEXES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);
const CONFIG_TYPE: Record<string, string> = {
  [OCI_MANIFEST]: "application/vnd.oci.image.config.v1+json",
  [DOCKER_MANIFEST]: "application/vnd.docker.container.image.v1+json",
};

type Codec = "gzip" | "zstd" | "tar";
/** The layer media types each manifest schema defines, and the codec each names. */
const LAYER_TYPES: Record<string, Record<string, Codec>> = {
  [OCI_MANIFEST]: {
    "application/vnd.oci.image.layer.v1.tar": "tar",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
  },
  [DOCKER_MANIFEST]: {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
    // Not in the schema 2 text, but what containerd and BuildKit write for an uncompressed layer.
    "application/vnd.docker.image.rootfs.diff.tar": "tar",
  },
};

const MAGIC: Record<Exclude<Codec, "tar">, number[]> = { gzip: [0x1f, 0x8b], zstd: [0x28, 0xb5, 0x2f, 0xfd] };
const DECOMPRESS: Record<Exclude<Codec, "tar">, string[]> = { gzip: ["gzip", "-dc"], zstd: ["zstd", "-dcq"] };

interface Descriptor { mediaType?: string; digest: string; size: number; platform?: { os?: string; architecture?: string; variant?: string }; urls?: string[] }

/** Where a store keeps the blob of a digest (an OCI layout: blobs/<alg>/<hex>; skopeo's dir: format: <hex>). */
type BlobPath = (algorithm: string, hex: string) => string;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function codecOfBytes(head: Uint8Array): Codec | undefined {
  for (const [codec, magic] of Object.entries(MAGIC)) if (magic.every((b, i) => head[i] === b)) return codec as Codec;
  return looksLikeTar(head) ? "tar" : undefined;
}

/** A tar's first block is a header with the ustar magic, or (an archive with no entries) all zeros. */
function looksLikeTar(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const magic = new TextDecoder().decode(block.subarray(257, 262));
  return magic === "ustar" || block.subarray(0, 512).every((b) => b === 0);
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const f = await open(path, "r");
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await f.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await f.close();
  }
}

/** sha256 and first 512 bytes of a stream. */
async function digestStream(stream: ReadableStream<Uint8Array>): Promise<{ digest: string; size: number; head: Uint8Array }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  const head: Uint8Array[] = [];
  let headLength = 0;
  for await (const chunk of stream) {
    hasher.update(chunk);
    size += chunk.byteLength;
    if (headLength < 512) { head.push(chunk.subarray(0, 512 - headLength)); headLength += head.at(-1)!.byteLength; }
  }
  return { digest: `sha256:${hasher.digest("hex")}`, size, head: new Uint8Array(Buffer.concat(head)) };
}

/** The uncompressed layer's digest and first block, from gzip or zstd run on the blob; or why it does not decompress. */
async function uncompressed(path: string, codec: Codec): Promise<{ digest: string; head: Uint8Array } | { error: string }> {
  if (codec === "tar") return digestStream(Bun.file(path).stream() as ReadableStream<Uint8Array>);
  const p = Bun.spawn([...DECOMPRESS[codec], path], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [result, err, code] = await Promise.all([digestStream(p.stdout), new Response(p.stderr).text(), p.exited]);
  return code === 0 ? result : { error: `${DECOMPRESS[codec].join(" ")} fails: ${err.trim().split("\n").at(-1)}` };
}

class Checker {
  readonly problems: string[] = [];
  constructor(private readonly blobPath: BlobPath) {}

  problem(where: string, what: string): void {
    this.problems.push(`${where}: ${what}`);
  }

  /** The blob's path when it exists and hashes to its digest with the descriptor's size; otherwise a problem. */
  async blob(d: Descriptor, where: string): Promise<string | undefined> {
    const m = /^(sha256):([0-9a-f]{64})$/.exec(d?.digest ?? "");
    if (!m) return void this.problem(where, `malformed or unsupported digest ${JSON.stringify(d?.digest)}`);
    const path = this.blobPath(m[1], m[2]);
    if (!existsSync(path)) return void this.problem(where, `blob ${d.digest} is missing`);
    const actual = await digestStream(Bun.file(path).stream() as ReadableStream<Uint8Array>);
    if (actual.digest !== d.digest) return void this.problem(where, `blob ${d.digest} hashes to ${actual.digest}`);
    if (actual.size !== d.size) return void this.problem(where, `blob ${d.digest} is ${actual.size} bytes, the descriptor says ${d.size}`);
    return path;
  }

  async json(d: Descriptor, where: string): Promise<any> {
    const path = await this.blob(d, where);
    if (!path) return undefined;
    try {
      return JSON.parse(await readFile(path, "utf8"));
    } catch (e) {
      this.problem(where, `${d.digest} is not JSON: ${(e as Error).message}`);
    }
  }

  /** An index or a manifest named by `d`: an index's entries are checked in turn. */
  async node(d: Descriptor, where: string): Promise<void> {
    const doc = await this.json(d, where);
    if (!doc) return;
    const mediaType = doc.mediaType ?? d.mediaType;
    if (d.mediaType && doc.mediaType && d.mediaType !== doc.mediaType) {
      this.problem(where, `the descriptor says ${d.mediaType}, the document says ${doc.mediaType}`);
    }
    if (INDEXES.has(mediaType) || (mediaType === undefined && Array.isArray(doc.manifests))) {
      for (const [i, m] of (doc.manifests ?? []).entries()) await this.node(m, `${where} manifests[${i}]`);
    } else {
      await this.manifest(doc, d, where);
    }
  }

  async manifest(manifest: any, d: Descriptor, where: string): Promise<void> {
    if (manifest.schemaVersion !== 2) this.problem(where, `schemaVersion ${manifest.schemaVersion}, not 2`);
    // OCI lets the manifest leave its mediaType out; the descriptor then names it.
    const type: string = manifest.mediaType ?? d.mediaType ?? OCI_MANIFEST;
    if (!CONFIG_TYPE[type]) return this.problem(where, `unknown manifest media type ${type}`);
    if (manifest.config?.mediaType !== CONFIG_TYPE[type]) {
      this.problem(`${where} config`, `media type ${manifest.config?.mediaType} in a ${type} manifest (expected ${CONFIG_TYPE[type]})`);
    }
    const config = await this.json(manifest.config, `${where} config`);
    const layers: Descriptor[] = manifest.layers ?? [];
    const diffIDs: string[] = config?.rootfs?.diff_ids ?? [];
    if (config) {
      if (config.rootfs?.type !== "layers") this.problem(`${where} config`, `rootfs.type is ${JSON.stringify(config.rootfs?.type)}, not "layers"`);
      if (diffIDs.length !== layers.length) this.problem(`${where} config`, `${diffIDs.length} diffIDs for ${layers.length} layers`);
      if (config.history) {
        const nonEmpty = config.history.filter((h: any) => h.empty_layer !== true).length;
        if (nonEmpty !== layers.length) this.problem(`${where} config`, `history has ${nonEmpty} non-empty entries for ${layers.length} layers`);
      }
      if (!config.os || !config.architecture) this.problem(`${where} config`, "os or architecture missing");
      for (const k of ["os", "architecture", "variant"] as const) {
        const want = d.platform?.[k];
        if (want !== undefined && config[k] !== want) this.problem(`${where} config`, `${k} ${JSON.stringify(config[k])}, the index says ${JSON.stringify(want)}`);
      }
    }
    for (const [i, layer] of layers.entries()) await this.layer(layer, type, diffIDs[i], `${where} layers[${i}]`);
  }

  async layer(d: Descriptor, manifestType: string, diffID: string | undefined, where: string): Promise<void> {
    const codec = LAYER_TYPES[manifestType][d.mediaType ?? ""];
    if (!codec) return this.problem(where, `media type ${d.mediaType} is not a layer type of ${manifestType}`);
    // A non-distributable layer may live only at its URLs.
    if (d.urls?.length && !existsSync(this.blobPath("sha256", d.digest?.slice(7) ?? ""))) return;
    const path = await this.blob(d, where);
    if (!path) return;
    const found = codecOfBytes(await readHead(path, 512));
    if (found !== codec) return this.problem(where, `media type ${d.mediaType} says ${codec}, the bytes are ${found ?? "neither gzip, zstd nor tar"}`);
    const tar = await uncompressed(path, codec);
    if ("error" in tar) return this.problem(where, tar.error);
    if (!looksLikeTar(tar.head)) this.problem(where, `uncompressed, ${d.digest} is not a tar (first bytes ${hex(tar.head.subarray(0, 16))})`);
    if (diffID !== undefined && tar.digest !== diffID) this.problem(where, `uncompressed it hashes to ${tar.digest}, the config's diffID is ${diffID}`);
  }
}

/** Checks every image an OCI image layout holds (everything index.json reaches). */
export async function validateOciLayout(dir: string): Promise<string[]> {
  const c = new Checker((alg, h) => join(dir, "blobs", alg, h));
  let layoutFile: any, index: any;
  try {
    layoutFile = JSON.parse(await readFile(join(dir, "oci-layout"), "utf8"));
    index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  } catch (e) {
    return [`OCI layout ${dir}: ${(e as Error).message}`];
  }
  if (layoutFile.imageLayoutVersion !== "1.0.0") c.problem(`OCI layout ${dir}`, `imageLayoutVersion ${JSON.stringify(layoutFile.imageLayoutVersion)}`);
  if (!index.manifests?.length) c.problem(`OCI layout ${dir}`, "index.json lists no manifest");
  for (const [i, m] of (index.manifests ?? []).entries()) await c.node(m, `OCI layout ${dir} index.json manifests[${i}]`);
  return c.problems;
}

/**
 * Checks an image in a registry: skopeo copies it, every platform, byte for byte to its dir: format (which
 * converts nothing), and the copy is checked as it was served.
 */
export async function validateRegistryImage(ref: string, access: RegistryAccess = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-validate-"));
  try {
    await runTool(["skopeo", "copy", "-q", "--all", "--preserve-digests", ...registryFlags(access, "src-"), `docker://${ref}`, `dir:${join(dir, "copy")}`]);
    const copy = join(dir, "copy");
    const top = await readFile(join(copy, "manifest.json"));
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(top).digest("hex")}`;
    // dir: keeps the top manifest as manifest.json and an index's entries as <hex>.manifest.json, blobs as <hex>.
    const c = new Checker((_, h) => (h === digest.slice(7) ? join(copy, "manifest.json") : existsSync(join(copy, `${h}.manifest.json`)) ? join(copy, `${h}.manifest.json`) : join(copy, h)));
    await c.node({ digest, size: top.byteLength }, ref);
    return c.problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
