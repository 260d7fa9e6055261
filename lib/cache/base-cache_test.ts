import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MediaType, serializeImage, sha256, type Image, type Layer, type Platform } from "../image/mod.ts";
import { createLogger } from "../log/mod.ts";
import { blobPath, cacheRefName, DirBaseImageCache } from "./base-cache.ts";
import { addToCache } from "./warmer.ts";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), "kiln-base-cache-")); dirs.push(d); return d; };

const amd64: Platform = { os: "linux", architecture: "amd64" };
const arm64: Platform = { os: "linux", architecture: "arm64" };
const HOUR = 3_600_000;
const T0 = new Date("2030-01-01T00:00:00Z");
const at = (ms: number) => () => new Date(T0.getTime() + ms);

function memoryLayer(text: string): Layer {
  const bytes = new TextEncoder().encode(text);
  return {
    mediaType: MediaType.dockerLayerGzip, digest: sha256(bytes), size: bytes.byteLength, diffID: sha256(`diff ${text}`),
    open: async () => new Response(bytes).body!,
  };
}

function image(platform: Platform, ...layers: string[]): Image {
  const ls = layers.map(memoryLayer);
  return {
    format: "docker",
    layers: ls,
    config: { architecture: platform.architecture, os: platform.os, config: { Env: ["A=1"] }, rootfs: { type: "layers", diff_ids: ls.map((l) => l.diffID) }, history: [] },
  };
}

async function warmed(entries: { ref: string; platform: Platform; img: Image }[]): Promise<string> {
  const dir = tmp();
  for (const e of entries) await addToCache(dir, cacheRefName(e.ref), e.platform, { image: e.img, digest: sha256(e.ref) }, { force: false, fetched: T0 });
  return dir;
}

test("a cached image comes back as stored, its layers read from the directory's blob files", async () => {
  const img = image(amd64, "layer one", "layer two");
  const dir = await warmed([{ ref: "registry.test:5000/team/base:1", platform: amd64, img }]);
  const got = await new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(1000) }).get("registry.test:5000/team/base:1", amd64);
  expect(got).toBeDefined();
  expect(serializeImage(got!).manifestDescriptor.digest).toBe(serializeImage(img).manifestDescriptor.digest);
  expect(got!.format).toBe("docker");
  for (const [i, l] of got!.layers.entries()) {
    expect(l.path).toBe(blobPath(dir, img.layers[i].digest));
    expect(readFileSync(l.path!, "utf8")).toBe(i === 0 ? "layer one" : "layer two");
    expect(await new Response(await l.open()).text()).toBe(i === 0 ? "layer one" : "layer two");
    expect(l.origin).toEqual({ registry: "registry.test:5000", repository: "team/base" });
  }
});

test("a tag reference older than the TTL is a miss; a digest reference is served whatever its age", async () => {
  const digestRef = `registry.test/base@sha256:${"a".repeat(64)}`;
  const dir = await warmed([
    { ref: "registry.test/base:1", platform: amd64, img: image(amd64, "x") },
    { ref: digestRef, platform: amd64, img: image(amd64, "y") },
  ]);
  const fresh = new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(HOUR - 1) });
  const stale = new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(HOUR + 1) });
  expect(await fresh.get("registry.test/base:1", amd64)).toBeDefined();
  expect(await stale.get("registry.test/base:1", amd64)).toBeUndefined();
  expect(await stale.get(digestRef, amd64)).toBeDefined();
  expect(await new DirBaseImageCache({ dir, ttlMs: 0, now: at(1000 * HOUR) }).get(digestRef, amd64)).toBeDefined();
});

test("an entry for another platform is a miss; two platforms of one reference are kept side by side", async () => {
  const dir = await warmed([{ ref: "registry.test/base:1", platform: amd64, img: image(amd64, "amd") }]);
  const cache = new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(0) });
  expect(await cache.get("registry.test/base:1", arm64)).toBeUndefined();
  await addToCache(dir, cacheRefName("registry.test/base:1"), arm64, { image: image(arm64, "arm"), digest: sha256("arm") }, { force: false, fetched: T0 });
  expect((await cache.get("registry.test/base:1", arm64))!.config.architecture).toBe("arm64");
  expect((await cache.get("registry.test/base:1", amd64))!.config.architecture).toBe("amd64");
});

test("every spelling of a Docker Hub reference finds one entry, named docker.io/library/NAME:TAG", async () => {
  expect(cacheRefName("busybox")).toBe("docker.io/library/busybox:latest");
  expect(cacheRefName("index.docker.io/library/debian:bookworm")).toBe("docker.io/library/debian:bookworm");
  const dir = await warmed([{ ref: "busybox", platform: amd64, img: image(amd64, "bb") }]);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  expect(index.manifests.map((m: any) => m.annotations["org.opencontainers.image.ref.name"])).toEqual(["docker.io/library/busybox:latest"]);
  expect(index.manifests[0].platform).toEqual({ os: "linux", architecture: "amd64" });
  const cache = new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(0) });
  expect(await cache.get("docker.io/busybox:latest", amd64)).toBeDefined();
  expect(await cache.get("busybox:other", amd64)).toBeUndefined();
});

test("a damaged entry is a miss with a warning, not an error; a directory without an index is empty", async () => {
  const img = image(amd64, "whole layer");
  const dir = await warmed([{ ref: "registry.test/base:1", platform: amd64, img }]);
  truncateSync(blobPath(dir, img.layers[0].digest), 3);
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", format: "text", write: (l) => lines.push(l) });
  expect(await new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(0), logger }).get("registry.test/base:1", amd64)).toBeUndefined();
  expect(lines.join("\n")).toContain(`layer blob ${img.layers[0].digest} is 3 bytes`);
  expect(await new DirBaseImageCache({ dir: tmp(), ttlMs: HOUR }).get("registry.test/base:1", amd64)).toBeUndefined();
});

test("entries stored at once by concurrent writers are all kept (index.json is merged under its lock)", async () => {
  const dir = tmp();
  const refs = Array.from({ length: 12 }, (_, i) => `registry.test/img${i}:1`);
  await Promise.all(refs.map((ref, i) => addToCache(dir, cacheRefName(ref), amd64, { image: image(amd64, `l${i}`, "shared"), digest: sha256(ref) }, { force: false, fetched: T0 })));
  const cache = new DirBaseImageCache({ dir, ttlMs: HOUR, now: at(0) });
  for (const ref of refs) expect(await cache.get(ref, amd64)).toBeDefined();
  expect(JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests).toHaveLength(12);
});
