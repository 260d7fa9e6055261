import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256, type Layer } from "../image/mod.ts";
import { readAll, tinyLayer } from "../../tests/support/tiny-image.ts";
import { CacheStoreError, OciLayoutLayerCache } from "./mod.ts";

const HOUR = 3600_000;
const key = (n: number | string) => sha256(`key ${n}`).slice(7);
const described = (l: Layer) => [l.digest, l.size, l.mediaType, l.diffID];

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

async function ok(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.err}`);
  return r.out;
}

/** Every file under dir, relative, for "nothing half-written was left" checks. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe("OciLayoutLayerCache", () => {
  let tmp: string;
  let layer: Layer;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "kiln-ocicache-"));
    layer = await tinyLayer(tmp, { "app/data.txt": "cached step output\n" }, "oci");
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  const newDir = () => mkdtemp(join(tmp, "layout-"));

  test("put then get into a directory it creates: the same layer, read from its blob file, and history", async () => {
    const dir = join(await newDir(), "not", "yet");
    const cache = new OciLayoutLayerCache({ dir, ttlMs: 336 * HOUR });
    expect(cache.name).toBe(`oci:${dir}`);
    expect(await cache.get(key(1))).toBeUndefined();
    await cache.put(key(1), { layer, createdBy: "RUN /bin/sh -c make" });
    const got = await cache.get(key(1));
    expect(got?.createdBy).toBe("RUN /bin/sh -c make");
    expect(described(got!.layer!)).toEqual(described(layer));
    expect(got!.layer!.path).toBe(join(dir, "blobs", "sha256", layer.digest.slice(7)));
    expect(got!.layer!.origin).toBeUndefined();
    expect(sha256(await readAll(await got!.layer!.open())) as string).toBe(layer.digest);
    expect(sha256(await readAll(await got!.layer!.openUnverified!())) as string).toBe(layer.digest);
    expect(await cache.get(key(2))).toBeUndefined();
  });

  test("entries are named in index.json: skopeo and umoci read them", async () => {
    const dir = await newDir();
    const cache = new OciLayoutLayerCache({ dir, ttlMs: 336 * HOUR });
    await cache.put(key("a"), { layer, createdBy: "COPY src /app" });
    await cache.put(key("b"), { createdBy: "RUN true" });
    const raw = JSON.parse(await ok(["skopeo", "inspect", "--raw", `oci:${dir}:${key("a")}`]));
    expect(raw.layers).toEqual([{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]);
    const config = JSON.parse(await ok(["skopeo", "inspect", "--config", "--raw", `oci:${dir}:${key("a")}`]));
    expect(config.rootfs.diff_ids).toEqual([layer.diffID]);
    expect(config.history).toEqual([{ created: config.created, created_by: "COPY src /app" }]);
    expect((await ok(["umoci", "ls", "--layout", dir])).trim().split("\n").sort()).toEqual([key("a"), key("b")].sort());
    const stat = JSON.parse(await ok(["umoci", "stat", "--json", "--image", `${dir}:${key("a")}`]));
    expect(stat.history.map((h: any) => h.created_by)).toEqual(["COPY src /app"]);
  });

  test("an entry of a step that changed no file round-trips without a layer", async () => {
    const cache = new OciLayoutLayerCache({ dir: await newDir(), ttlMs: HOUR });
    await cache.put(key("empty"), { createdBy: "ENV A=b" });
    expect(await cache.get(key("empty"))).toEqual({ createdBy: "ENV A=b", created: expect.any(Date) });
  });

  test("a layer without a local file (a registry's) is streamed in and checked", async () => {
    const cache = new OciLayoutLayerCache({ dir: await newDir(), ttlMs: HOUR });
    const remote: Layer = { ...layer, path: undefined, open: async () => Bun.file(layer.path!).stream() as ReadableStream<Uint8Array> };
    await cache.put(key("stream"), { layer: remote, createdBy: "RUN x" });
    expect(sha256(await readAll(await (await cache.get(key("stream")))!.layer!.open())) as string).toBe(layer.digest);
    const lying: Layer = { ...remote, digest: sha256("other"), size: layer.size };
    const err = await cache.put(key("lie"), { layer: lying, createdBy: "RUN x" }).catch((e) => e);
    expect(err).toBeInstanceOf(CacheStoreError);
    expect(err.message).toContain("has changed");
  });

  test("an entry older than the TTL is a miss; storing it again replaces it in index.json", async () => {
    const dir = await newDir();
    const stored = new Date("2026-01-01T00:00:00Z");
    const at = (ms: number) => new OciLayoutLayerCache({ dir, ttlMs: 2 * HOUR, now: () => new Date(stored.getTime() + ms) });
    await at(0).put(key("ttl"), { layer, createdBy: "RUN old" });
    expect((await at(2 * HOUR - 1).get(key("ttl")))?.created).toEqual(stored);
    expect(await at(2 * HOUR + 1).get(key("ttl"))).toBeUndefined();
    await at(3 * HOUR).put(key("ttl"), { layer, createdBy: "RUN new" });
    expect((await at(3 * HOUR + 1).get(key("ttl")))?.createdBy).toBe("RUN new");
    const index = JSON.parse(await Bun.file(join(dir, "index.json")).text());
    expect(index.manifests).toHaveLength(1);
    const config = JSON.parse(await ok(["skopeo", "inspect", "--config", "--raw", `oci:${dir}:${key("ttl")}`]));
    expect(config.history[0].created_by).toBe("RUN new");
  });

  test("a blob changed on disk fails the layer's stream; a missing one fails the lookup", async () => {
    const dir = await newDir();
    const own = await tinyLayer(tmp, { "own.txt": "own\n" }, "oci");
    const cache = new OciLayoutLayerCache({ dir, ttlMs: HOUR });
    await cache.put(key("c"), { layer: own, createdBy: "RUN x" });
    const blob = join(dir, "blobs", "sha256", own.digest.slice(7));
    const bytes = new Uint8Array(await Bun.file(blob).arrayBuffer());
    await rm(blob); // it is a hard link of the test's layer file: replace it, do not write through it
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(blob, bytes);
    const got = await cache.get(key("c"));
    await expect(readAll(await got!.layer!.open())).rejects.toThrow(/has changed/);
    await rm(blob);
    const err = await cache.get(key("c")).catch((e) => e);
    expect(err).toBeInstanceOf(CacheStoreError);
    expect(err.message).toContain(key("c"));
  });

  test("two processes storing into one directory at once: every entry lands, index.json stays valid", async () => {
    const dir = await newDir();
    const script = join(tmp, "put-many.ts");
    await writeFile(script, `
      import { OciLayoutLayerCache } from ${JSON.stringify(join(import.meta.dir, "mod.ts"))};
      import { fileLayer, sha256 } from ${JSON.stringify(join(import.meta.dir, "..", "image", "mod.ts"))};
      const [dir, who, shared] = process.argv.slice(2);
      const cache = new OciLayoutLayerCache({ dir, ttlMs: 3600_000 });
      const sharedLayer = JSON.parse(shared);
      await Promise.all(Array.from({ length: 15 }, async (_, i) => {
        const tar = new TextEncoder().encode(who + " " + i + " " + "x".repeat(i * 100));
        const gz = Bun.gzipSync(tar);
        const path = dir + "-" + who + "-" + i + ".gz";
        await Bun.write(path, gz);
        const own = fileLayer({ path, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: gz.byteLength, diffID: sha256(tar) });
        const layer = i % 3 === 0 ? fileLayer(sharedLayer) : own;
        await cache.put(sha256(who + i).slice(7), { layer, createdBy: "RUN " + who + " " + i });
      }));
    `);
    const shared = JSON.stringify({ path: layer.path, mediaType: layer.mediaType, digest: layer.digest, size: layer.size, diffID: layer.diffID });
    const results = await Promise.all(["p1", "p2"].map((who) => run([process.execPath, script, dir, who, shared])));
    for (const r of results) expect(r).toMatchObject({ code: 0, err: "" });
    const index = JSON.parse(await Bun.file(join(dir, "index.json")).text());
    const names = index.manifests.map((d: any) => d.annotations["org.opencontainers.image.ref.name"]).sort();
    const expected = ["p1", "p2"].flatMap((who) => Array.from({ length: 15 }, (_, i) => sha256(who + i).slice(7))).sort();
    expect(names).toEqual(expected);
    const cache = new OciLayoutLayerCache({ dir, ttlMs: HOUR });
    for (const who of ["p1", "p2"]) {
      for (let i = 0; i < 15; i++) {
        const got = (await cache.get(sha256(who + i).slice(7)))!;
        expect(got.createdBy).toBe(`RUN ${who} ${i}`);
        expect(sha256(await readAll(await got.layer!.open())) as string).toBe(got.layer!.digest);
      }
    }
    expect((await tree(dir)).filter((n) => n.includes(".tmp-"))).toEqual([]);
    expect((await ok(["umoci", "ls", "--layout", dir])).trim().split("\n")).toHaveLength(30);
  });

  test("a full disk is an error, and leaves no partial blob", async () => {
    // A 64 KiB tmpfs in a mount namespace of its own: the host's mounts never see it.
    const mnt = await newDir();
    const dir = join(mnt, "cache");
    const big = join(tmp, "big.gz");
    const bytes = crypto.getRandomValues(new Uint8Array(60_000));
    const payload = new Uint8Array([...bytes, ...bytes, ...bytes, ...bytes]); // 240 KB, more than the disk holds
    await writeFile(big, payload);
    const script = join(tmp, "put-full.ts");
    await writeFile(script, `
      import { OciLayoutLayerCache } from ${JSON.stringify(join(import.meta.dir, "mod.ts"))};
      import { fileLayer } from ${JSON.stringify(join(import.meta.dir, "..", "image", "mod.ts"))};
      import { readdirSync } from "node:fs";
      const [dir, path, digest, size] = process.argv.slice(2);
      const cache = new OciLayoutLayerCache({ dir, ttlMs: 3600_000 });
      const layer = fileLayer({ path, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: Number(size), diffID: digest });
      const err = await cache.put("${key("full")}", { layer, createdBy: "RUN big" }).catch((e) => e);
      const left = readdirSync(dir, { recursive: true }).map(String).sort();
      console.log(JSON.stringify({ name: err?.name, message: err?.message, left, miss: (await cache.get("${key("full")}")) === undefined }));
    `);
    const r = await run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
      `mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$4" "$5" "$6" "$7"`, "sh",
      mnt, process.execPath, script, dir, big, sha256(payload), String(payload.byteLength)]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.name).toBe("CacheStoreError");
    expect(out.message).toContain(`oci:${dir}`);
    expect(out.message).toMatch(/ENOSPC|no space/i);
    expect(out.left).toEqual(["blobs", "blobs/sha256", "kiln-refs", "oci-layout"]);
    expect(out.miss).toBe(true);
  });

  test("a key that cannot be a ref name is refused", async () => {
    const cache = new OciLayoutLayerCache({ dir: await newDir(), ttlMs: HOUR });
    await expect(cache.put("../escape", { createdBy: "x" })).rejects.toThrow(CacheStoreError);
    await expect(cache.get("../escape")).rejects.toThrow(CacheStoreError);
  });
});
