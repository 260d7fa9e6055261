// Layer compression in the compiled binary: a large layer is compressed in blocks on worker
// threads (shipped as source text, so dist/kiln needs no extra file) and still forms one stream
// that gzip/zstd check, whose decompressed bytes hash to the config's diffID, and that umoci (gzip)
// or skopeo + tar (zstd) unpack.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusybox } from "../support/base-images.ts";
import { cleanupInspected, inspectOciLayout } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { validateOciLayout, validateRegistryImage } from "../support/validate-image.ts";

let reg: TestRegistry;
let base: string;
const cleanup: string[] = [];
const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8" });
// `seq 1 700000` is 4.8 MB: five 1 MiB blocks and a bit.
const SEQ_SHA = sh("seq 1 700000 | sha256sum").split(" ")[0];

beforeAll(async () => {
  reg = await startRegistry();
  base = await pushBusybox(reg);
});
afterAll(async () => {
  await reg?.stop();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

describe.each([
  ["gzip", "gzip -t", "gzip -dc"],
  ["zstd", "zstd -tq", "zstd -dcq"],
])("dist/kiln --compression=%s", (codec, check, decompress) => {
  test("a 4.8 MB layer: blocks form one valid stream, its tar hashes to the diffID, the file unpacks intact", async () => {
    const ctx = makeContext({ Dockerfile: `FROM ${base}\nRUN seq 1 700000 > /numbers\n` });
    const out = mkdtempSync(join(tmpdir(), "kiln-compress-"));
    cleanup.push(ctx, out);
    const layout = join(out, "layout");
    const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--compression", codec, "--compression-level", "3", "--oci-layout-path", layout, "-d", `${reg.host}/c:t`], { flavour: "binary" });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const manifest = JSON.parse(sh(`skopeo inspect --raw oci:${layout}:t`));
    const config = JSON.parse(sh(`skopeo inspect --config --raw oci:${layout}:t`));
    const top = manifest.layers.at(-1);
    expect(top.mediaType).toBe(`application/vnd.oci.image.layer.v1.tar+${codec}`);
    expect(await validateOciLayout(layout)).toEqual([]);
    const blob = join(layout, "blobs", "sha256", top.digest.slice(7));
    expect(sh(`${check} ${blob} && echo ok`).trim()).toBe("ok");
    expect("sha256:" + sh(`${decompress} ${blob} | sha256sum`).split(" ")[0]).toBe(config.rootfs.diff_ids.at(-1));
    const parts = codec === "gzip"
      ? Number(sh(`python3 -c 'import sys, zlib\ndata = open(sys.argv[1], "rb").read(); n = 0\nwhile data:\n    d = zlib.decompressobj(31); d.decompress(data); data = d.unused_data; n += 1\nprint(n)' ${blob}`))
      : Number(sh(`zstd -l ${blob} | awk 'NR==2 {print $1}'`));
    expect(parts).toBeGreaterThanOrEqual(5);
    if (codec === "zstd") {
      // umoci 0.4.7 (Debian's) reads no zstd layers: skopeo copies the image (checking every digest) and tar unpacks the layer.
      sh(`skopeo copy -q oci:${layout}:t dir:${join(out, "copy")}`);
      expect(sh(`${decompress} ${blob} | tar -xOf - numbers | sha256sum`).split(" ")[0]).toBe(SEQ_SHA);
      return;
    }
    const img = await inspectOciLayout(layout, "t");
    try {
      expect(img.files.get("/numbers")?.sha256).toBe(SEQ_SHA);
    } finally {
      await cleanupInspected(img);
    }
  }, 120_000);
});

// Docker schema 2 has no zstd layer type: a zstd layer on a Docker-format base (scratch is one) was labelled tar.gzip.
// BuildKit turns the image OCI for zstd; so does kiln.
test("FROM scratch --compression=zstd: the layer is labelled zstd and the image is OCI, in the registry and the layout", async () => {
  const ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": "zstd\n".repeat(1000) });
  const out = mkdtempSync(join(tmpdir(), "kiln-compress-"));
  cleanup.push(ctx, out);
  const layout = join(out, "layout");
  const dest = `${reg.host}/scratch-zstd:t`;
  const r = await runKiln(["-c", ctx, "--insecure", "--compression", "zstd", "--oci-layout-path", layout, "-d", dest]);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  expect(await validateOciLayout(layout)).toEqual([]);
  expect(await validateRegistryImage(dest)).toEqual([]);
  const manifest = JSON.parse(sh(`skopeo inspect --raw --tls-verify=false docker://${dest}`));
  expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
  expect(manifest.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+zstd"]);
}, 120_000);

// Layers of stages that only feed COPY --from never leave the build: they are written as plain tar (no gzip to pay
// for and undo). The copied files are the same, and every layer of the outputs is still compressed and valid.
test("a stage that only feeds COPY --from writes plain-tar layers; the outputs' layers are all gzip", async () => {
  const ctx = makeContext({
    Dockerfile: `FROM ${base} AS parent\nRUN echo parent > /parent\nFROM parent AS child\nRUN echo child > /child\n` +
      `FROM ${base} AS feeder\nRUN head -c 1048576 /dev/zero > /zeros && seq 1 1000 > /numbers\n` +
      "FROM child\nCOPY --from=feeder /zeros /numbers /copied/\n",
  });
  const out = mkdtempSync(join(tmpdir(), "kiln-compress-"));
  cleanup.push(ctx, out);
  const layout = join(out, "layout");
  const dest = `${reg.host}/internal-stage:t`;
  const r = await runKiln(["-c", ctx, "--insecure", "--insecure-pull", "--oci-layout-path", layout, "-d", dest, "--log-format", "text"]);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  // The feeder's 1 MiB of zeros: stored as it is (a gzip layer would be about 1 kB), the final COPY of it gzipped.
  const sizes = [...r.stderr.matchAll(/snapshot: ([\d.]+ [kM]?B) in .* compressed=([\d.]+ [kM]?B)/g)].map((m) => m[2]);
  expect(sizes.filter((s) => s.endsWith(" MB"))).toHaveLength(1);
  expect(await validateOciLayout(layout)).toEqual([]);
  expect(await validateRegistryImage(dest)).toEqual([]);
  const manifest = JSON.parse(sh(`skopeo inspect --raw --tls-verify=false docker://${dest}`));
  expect(manifest.layers.every((l: { mediaType: string }) => l.mediaType.endsWith("gzip"))).toBe(true);
  const img = await inspectOciLayout(layout, "t");
  try {
    expect(img.files.get("/copied/numbers")?.content).toBe(sh("seq 1 1000"));
    expect(img.files.get("/copied/zeros")?.size).toBe(1048576);
    expect(img.files.get("/child")?.content).toBe("child\n");
    expect(img.files.get("/parent")?.content).toBe("parent\n");
  } finally {
    await cleanupInspected(img);
  }
}, 120_000);
