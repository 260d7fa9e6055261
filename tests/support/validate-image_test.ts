// The image validator on layouts written here by hand (tar, gzip and zstd, not kiln), each valid one then tampered
// with in one way: it must name exactly that defect, and nothing in an untouched image.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxLayout, pushBusybox } from "./base-images.ts";
import { runTool } from "./image-assert.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { validateOciLayout, validateRegistryImage } from "./validate-image.ts";

type Codec = "gzip" | "zstd" | "tar";
const LAYER_TYPE: Record<Codec, string> = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  tar: "application/vnd.oci.image.layer.v1.tar",
};
const COMPRESS: Record<Codec, string> = { gzip: "gzip -n -c", zstd: "zstd -q -c", tar: "cat" };

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "kiln-validate-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

async function putBlob(layout: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  await writeFile(join(layout, "blobs", "sha256", digest.slice(7)), bytes);
  return { digest, size: bytes.byteLength };
}

/** A valid one-image layout whose layers are compressed with `codecs`, tagged "t". */
async function writeLayout(codecs: Codec[] = ["gzip"]): Promise<string> {
  const dir = join(tmp, `case-${n++}`);
  const layout = join(dir, "layout");
  await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
  const layers = [], diffIDs = [];
  for (const [i, codec] of codecs.entries()) {
    const root = join(dir, `root${i}`);
    await mkdir(root, { recursive: true });
    await writeFile(join(root, `file${i}.txt`), `layer ${i}\n`.repeat(100));
    const tar = join(dir, `layer${i}.tar`);
    await runTool(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", root, "-cf", tar, "."]);
    await runTool(["bash", "-c", `${COMPRESS[codec]} ${tar} > ${tar}.blob`]);
    diffIDs.push(sha256(await readFile(tar)));
    layers.push({ mediaType: LAYER_TYPE[codec], ...(await putBlob(layout, await readFile(`${tar}.blob`))) });
  }
  const config = {
    architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: diffIDs },
    history: [{ created_by: "ENV x=1", empty_layer: true }, ...codecs.map((c) => ({ created_by: `layer ${c}` }))],
  };
  const configDesc = { mediaType: "application/vnd.oci.image.config.v1+json", ...(await putBlob(layout, enc(config))) };
  const manifest = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: configDesc, layers };
  const manifestDesc = { mediaType: manifest.mediaType, ...(await putBlob(layout, enc(manifest))) };
  const index = {
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ ...manifestDesc, platform: { os: "linux", architecture: "amd64" }, annotations: { "org.opencontainers.image.ref.name": "t" } }],
  };
  await writeFile(join(layout, "index.json"), JSON.stringify(index));
  await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return layout;
}

/**
 * Edits the layout's manifest, config or index entry and writes the edited documents back under their new digests,
 * so the edit is the only defect.
 */
async function tamper(layout: string, edit: { manifest?: (m: any) => void; config?: (c: any) => void; entry?: (e: any) => void }): Promise<void> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  const blob = async (d: string) => JSON.parse(await readFile(join(layout, "blobs", "sha256", d.slice(7)), "utf8"));
  const entry = index.manifests[0];
  const manifest = await blob(entry.digest);
  if (edit.config) {
    const config = await blob(manifest.config.digest);
    edit.config(config);
    Object.assign(manifest.config, await putBlob(layout, enc(config)));
  }
  edit.manifest?.(manifest);
  Object.assign(entry, await putBlob(layout, enc(manifest)));
  edit.entry?.(entry);
  await writeFile(join(layout, "index.json"), JSON.stringify(index));
}

describe("validateOciLayout", () => {
  test("finds nothing wrong in valid layouts: gzip, zstd and plain tar layers, and the busybox base", async () => {
    expect(await validateOciLayout(await writeLayout(["gzip", "zstd", "tar"]))).toEqual([]);
    expect(await validateOciLayout(await busyboxLayout())).toEqual([]);
  }, 30_000);

  test("a zstd blob labelled gzip", async () => {
    const layout = await writeLayout(["zstd"]);
    await tamper(layout, { manifest: (m) => { m.layers[0].mediaType = LAYER_TYPE.gzip; } });
    const problems = await validateOciLayout(layout);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/layers\[0\]: media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip says gzip, the bytes are zstd$/);
  });

  test("a Docker layer type in an OCI manifest, and an OCI one in a Docker manifest", async () => {
    const layout = await writeLayout(["gzip"]);
    await tamper(layout, { manifest: (m) => { m.layers[0].mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"; } });
    expect(await validateOciLayout(layout)).toEqual([expect.stringContaining("is not a layer type of application/vnd.oci.image.manifest.v1+json")]);
    const docker = await writeLayout(["zstd"]);
    await tamper(docker, {
      manifest: (m) => {
        m.mediaType = "application/vnd.docker.distribution.manifest.v2+json";
        m.config.mediaType = "application/vnd.docker.container.image.v1+json";
      },
      entry: (e) => { e.mediaType = "application/vnd.docker.distribution.manifest.v2+json"; },
    });
    expect(await validateOciLayout(docker)).toEqual([expect.stringContaining("tar+zstd is not a layer type of application/vnd.docker.distribution.manifest.v2+json")]);
  });

  test("a wrong diffID", async () => {
    const layout = await writeLayout(["gzip", "gzip"]);
    await tamper(layout, { config: (c) => { c.rootfs.diff_ids[1] = c.rootfs.diff_ids[0]; } });
    const problems = await validateOciLayout(layout);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/layers\[1\]: uncompressed it hashes to sha256:[0-9a-f]{64}, the config's diffID is sha256:/);
  });

  test("a wrong size, bytes that do not hash to their digest, a missing blob", async () => {
    const layout = await writeLayout(["gzip", "gzip", "gzip"]);
    await tamper(layout, {
      manifest: (m) => {
        m.layers[0].size += 1;
        m.layers[2].digest = `sha256:${"0".repeat(64)}`;
      },
    });
    const manifest = JSON.parse(await readFile(join(layout, "blobs", "sha256", JSON.parse(await readFile(join(layout, "index.json"), "utf8")).manifests[0].digest.slice(7)), "utf8"));
    await writeFile(join(layout, "blobs", "sha256", manifest.layers[1].digest.slice(7)), Bun.gzipSync("not the layer"));
    expect(await validateOciLayout(layout)).toEqual([
      expect.stringMatching(/layers\[0\]: blob sha256:[0-9a-f]{64} is \d+ bytes, the descriptor says \d+$/),
      expect.stringMatching(/layers\[1\]: blob sha256:[0-9a-f]{64} hashes to sha256:[0-9a-f]{64}$/),
      expect.stringMatching(/layers\[2\]: blob sha256:0{64} is missing$/),
    ]);
  });

  test("config digest and size, history count, platform, diffID count", async () => {
    const layout = await writeLayout(["gzip"]);
    await tamper(layout, {
      config: (c) => {
        c.history.push({ created_by: "a layer that is not there" });
        c.architecture = "arm64";
        c.rootfs.diff_ids.push(c.rootfs.diff_ids[0]);
      },
    });
    expect(await validateOciLayout(layout)).toEqual([
      expect.stringMatching(/config: 2 diffIDs for 1 layers$/),
      expect.stringMatching(/config: history has 2 non-empty entries for 1 layers$/),
      expect.stringMatching(/config: architecture "arm64", the index says "amd64"$/),
    ]);
    const other = await writeLayout(["gzip"]);
    await tamper(other, { manifest: (m) => { m.config.size -= 1; } });
    expect(await validateOciLayout(other)).toEqual([expect.stringMatching(/config: blob sha256:[0-9a-f]{64} is \d+ bytes, the descriptor says \d+$/)]);
  });
});

describe("validateRegistryImage", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("reads the image as the registry serves it: busybox is valid, a pushed wrong diffID is found", async () => {
    expect(await validateRegistryImage(await pushBusybox(reg), { tlsVerify: false })).toEqual([]);
    const layout = await writeLayout(["gzip", "zstd"]);
    await tamper(layout, { config: (c) => { c.rootfs.diff_ids.reverse(); } });
    const ref = `${reg.host}/tampered:1`;
    await runTool(["skopeo", "copy", "-q", "--preserve-digests", "--dest-tls-verify=false", `oci:${layout}:t`, `docker://${ref}`]);
    const problems = await validateRegistryImage(ref);
    expect(problems).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+\/tampered:1 layers\[0\]: uncompressed it hashes to/),
      expect.stringMatching(/layers\[1\]: uncompressed it hashes to/),
    ]);
  }, 60_000);
});
