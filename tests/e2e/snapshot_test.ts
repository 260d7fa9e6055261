// Snapshot flags end to end: --reproducible (identical digests, zero timestamps, base layers kept),
// SOURCE_DATE_EPOCH, --single-snapshot, and a RUN that only reads adding no layer. Images are read
// back with skopeo + umoci.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusybox } from "../support/base-images.ts";
import { cleanupInspected, inspectOciLayout, inspectRegistryImage } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";

let reg: TestRegistry;
let base: string;
let baseLayers: string[];
const cleanup: string[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  base = await pushBusybox(reg);
  const img = await inspectRegistryImage(base);
  baseLayers = img.manifest.layers.map((l: any) => l.digest);
  await cleanupInspected(img);
});
afterAll(async () => {
  await reg?.stop();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const DOCKERFILE = (from: string) => `FROM ${from}
RUN echo one > /one && mkdir -p /opt/app && echo two > /opt/app/two
RUN cat /etc/passwd > /dev/null && ls -l / > /dev/null
COPY f.txt /opt/app/
RUN rm /one
`;

async function build(extra: string[], env: Record<string, string> = {}) {
  const ctx = makeContext({ Dockerfile: DOCKERFILE(base), "f.txt": "from the context\n" });
  const out = mkdtempSync(join(tmpdir(), "kiln-snap-out-"));
  cleanup.push(ctx, out);
  const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--oci-layout-path", join(out, "layout"), "--digest-file", join(out, "digest"), "-d", `${reg.host}/x:t`, ...extra], { env });
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  return { digest: readFileSync(join(out, "digest"), "utf8"), layout: join(out, "layout") };
}

test("--reproducible: two builds give the same digest, timestamps are zero, base layers keep their digests", async () => {
  const a = await build(["--reproducible"]);
  await Bun.sleep(1100); // a second later: without --reproducible, mtimes and `created` would differ
  const b = await build(["--reproducible"]);
  expect(b.digest).toBe(a.digest);
  const img = await inspectOciLayout(a.layout, "t");
  try {
    expect(img.config.created).toBe("1970-01-01T00:00:00Z");
    const layers = img.manifest.layers.map((l: any) => l.digest);
    expect(layers.slice(0, baseLayers.length)).toEqual(baseLayers);
    // RUN one, COPY, RUN rm: the RUN that only read files added no layer.
    expect(layers.length).toBe(baseLayers.length + 3);
    expect(img.files.get("/opt/app/two")).toMatchObject({ content: "two\n", mtime: 0 });
    expect(img.files.get("/opt/app/f.txt")).toMatchObject({ content: "from the context\n", mtime: 0 });
    expect(img.files.has("/one")).toBe(false);
  } finally {
    await cleanupInspected(img);
  }
}, 120_000);

test("SOURCE_DATE_EPOCH pins created and clamps new mtimes; --single-snapshot makes one layer", async () => {
  const epoch = 1_000_000_000;
  const r = await build(["--single-snapshot"], { SOURCE_DATE_EPOCH: String(epoch) });
  const img = await inspectOciLayout(r.layout, "t");
  try {
    expect(img.config.created).toBe(new Date(epoch * 1000).toISOString().replace(".000", ""));
    expect(img.manifest.layers.length).toBe(baseLayers.length + 1);
    expect(img.files.get("/opt/app/two")!.mtime).toBe(epoch);
    expect(img.files.has("/one")).toBe(false); // created and removed within the one snapshot: not there, no whiteout needed
    expect(img.config.history.filter((h: any) => !h.empty_layer).length).toBe(img.manifest.layers.length);
  } finally {
    await cleanupInspected(img);
  }
}, 120_000);

test("a bad SOURCE_DATE_EPOCH is one clear error", async () => {
  const ctx = makeContext({ Dockerfile: "FROM scratch\n" });
  cleanup.push(ctx);
  const r = await runKiln(["-c", ctx, "--no-push"], { env: { SOURCE_DATE_EPOCH: "yesterday" } });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("SOURCE_DATE_EPOCH");
});
