import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/mod.ts";
import { sha256, type Layer } from "../image/mod.ts";
import { RegistryClient, RegistryError } from "../registry/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../../tests/support/fault-proxy.ts";
import { readAll, tinyImage, tinyLayer } from "../../tests/support/tiny-image.ts";
import { CacheStoreError, RegistryLayerCache } from "./mod.ts";
import { entryImage } from "./entry.ts";

const HOUR = 3600_000;
const key = (n: number | string) => sha256(`key ${n}`).slice(7);

async function skopeo(...args: string[]): Promise<any> {
  const p = Bun.spawn(["skopeo", ...args], { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`skopeo ${args.join(" ")} failed: ${err}`);
  return JSON.parse(out);
}

const described = (l: Layer) => [l.digest, l.size, l.mediaType, l.diffID];

describe("RegistryLayerCache on a real registry, seen through a counting proxy", () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let dir: string;
  let layer: Layer;
  let repo: string;
  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.host, []);
    client = new RegistryClient({ logger: silentLogger, insecureRegistries: [proxy.host] });
    dir = await mkdtemp(join(tmpdir(), "kiln-regcache-"));
    layer = await tinyLayer(dir, { "app/data.txt": "cached step output\n" }, "oci");
    repo = `${proxy.host}/team/app/cache`;
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const blobGets = (digest: string) => proxy.log.filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`)).length;

  test("put then get: the same layer (lazy, from the cache repository) and history, without reading the layer", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    expect(cache.name).toBe(repo);
    await cache.put(key(1), { layer, createdBy: "RUN /bin/sh -c make" });
    const got = await cache.get(key(1));
    expect(got?.createdBy).toBe("RUN /bin/sh -c make");
    expect(described(got!.layer!)).toEqual(described(layer));
    expect(got!.layer!.origin).toEqual({ registry: proxy.host, repository: "team/app/cache" });
    expect(got!.layer!.path).toBeUndefined();
    expect(Math.abs(got!.created.getTime() - Date.now())).toBeLessThan(HOUR);
    expect(blobGets(layer.digest)).toBe(0);
    // Opening it is what downloads it.
    expect(sha256(await readAll(await got!.layer!.open())) as string).toBe(layer.digest);
    expect(blobGets(layer.digest)).toBe(1);
  });

  test("a stored entry is an ordinary image: skopeo reads its manifest, layer and history", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    await cache.put(key("skopeo"), { layer, createdBy: "COPY src /app # buildkit" });
    const ref = `docker://${reg.host}/team/app/cache:${key("skopeo")}`;
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", ref);
    expect(raw.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(raw.layers).toEqual([{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]);
    const config = await skopeo("inspect", "--config", "--raw", "--tls-verify=false", ref);
    expect(config.rootfs.diff_ids).toEqual([layer.diffID]);
    expect(config.history).toEqual([{ created: config.created, created_by: "COPY src /app # buildkit" }]);
  });

  test("an entry of a step that changed no file has no layer, and round-trips", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    await cache.put(key("empty"), { createdBy: "RUN /bin/sh -c true" });
    const got = await cache.get(key("empty"));
    expect(got).toEqual({ createdBy: "RUN /bin/sh -c true", created: expect.any(Date) });
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/team/app/cache:${key("empty")}`);
    expect(raw.layers).toEqual([]);
  });

  test("a Docker-typed layer keeps its media type", async () => {
    const docker = await tinyLayer(dir, { "d.txt": "docker\n" }, "docker");
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    await cache.put(key("docker"), { layer: docker, createdBy: "RUN x" });
    expect(described((await cache.get(key("docker")))!.layer!)).toEqual(described(docker));
  });

  test("a lookup is one request when the entry's manifest carries its annotations, two (manifest, config) without", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    const lookup = async (k: string) => {
      const before = proxy.log.length;
      const got = await cache.get(k);
      return { got, requests: proxy.log.slice(before).map((r) => `${r.method} ${r.path.replace(/sha256:\w+/, "sha256:…")}`) };
    };
    await cache.put(key("one-trip"), { layer, createdBy: "RUN /bin/sh -c make" });
    const fast = await lookup(key("one-trip"));
    expect(fast.requests).toEqual([`GET /v2/team/app/cache/manifests/${key("one-trip")}`]);
    // The same entry as another tool (or an older kiln) writes it: no annotations, so the config is read.
    const plain = entryImage({ layer, createdBy: "RUN /bin/sh -c make" }, fast.got!.created);
    await client.push({ ...plain, annotations: undefined }, [`${repo}:${key("no-annotations")}`]);
    const slow = await lookup(key("no-annotations"));
    expect(slow.requests).toEqual([`GET /v2/team/app/cache/manifests/${key("no-annotations")}`, "GET /v2/team/app/cache/blobs/sha256:…"]);
    const seen = (e: typeof fast.got) => ({ ...e, layer: [...described(e!.layer!), e!.layer!.origin] });
    expect(seen(slow.got)).toEqual(seen(fast.got));
    expect(described(fast.got!.layer!)).toEqual(described(layer));
    // An entry of a step that changed no file, too.
    await cache.put(key("one-trip-empty"), { createdBy: "RUN true" });
    const empty = await lookup(key("one-trip-empty"));
    expect(empty.requests).toHaveLength(1);
    expect(empty.got).toEqual({ createdBy: "RUN true", created: expect.any(Date) });
  });

  test("a missing tag, or a repository never written, is a miss", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    expect(await cache.get(key("absent"))).toBeUndefined();
    const fresh = new RegistryLayerCache({ client, repo: `${proxy.host}/nobody/cache`, ttlMs: 336 * HOUR });
    expect(await fresh.get(key(1))).toBeUndefined();
  });

  test("an entry older than the TTL is a miss", async () => {
    const stored = new Date("2026-01-01T00:00:00Z");
    const at = (ms: number) => new RegistryLayerCache({ client, repo, ttlMs: 2 * HOUR, now: () => new Date(stored.getTime() + ms) });
    await at(0).put(key("ttl"), { layer, createdBy: "RUN old" });
    expect((await at(2 * HOUR - 1).get(key("ttl")))?.created).toEqual(stored);
    expect(await at(2 * HOUR + 1).get(key("ttl"))).toBeUndefined();
    // Storing it again renews it.
    await at(3 * HOUR).put(key("ttl"), { layer, createdBy: "RUN new" });
    expect((await at(3 * HOUR + 1).get(key("ttl")))?.createdBy).toBe("RUN new");
  });

  test("a hit's layer is mounted, not moved, into the final image's repository", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: 336 * HOUR });
    const img = await tinyImage({ files: [] });
    try {
      const got = (await cache.get(key(1)))!;
      const final = { ...img.image, layers: [got.layer!], config: { ...img.image.config, rootfs: { type: "layers" as const, diff_ids: [got.layer!.diffID] } } };
      const before = proxy.log.length;
      await client.push(final, [`${proxy.host}/team/app:1`]);
      const requests = proxy.log.slice(before);
      expect(requests.some((r) => r.method === "POST" && r.path.includes(`mount=${encodeURIComponent(layer.digest)}`) && r.path.includes("from=team%2Fapp%2Fcache"))).toBe(true);
      expect(requests.filter((r) => r.path.includes(layer.digest.slice(7)) && (r.method === "PUT" || r.method === "GET"))).toEqual([]);
    } finally {
      await img.cleanup();
    }
  });

  test("put mounts a layer that already lives in another repository of the registry", async () => {
    const img = await tinyImage({ files: [{ "base.txt": "base layer\n" }] });
    try {
      await client.push(img.image, [`${proxy.host}/library/base:1`]);
      const base = (await client.pullManifest(`${proxy.host}/library/base:1`))!.image.layers[0];
      const before = proxy.log.length;
      await new RegistryLayerCache({ client, repo, ttlMs: HOUR }).put(key("mount"), { layer: base, createdBy: "FROM base" });
      const requests = proxy.log.slice(before);
      expect(requests.some((r) => r.method === "POST" && r.path.includes("from=library%2Fbase"))).toBe(true);
      expect(requests.filter((r) => r.method === "GET" && r.path.endsWith(base.digest))).toEqual([]);
    } finally {
      await img.cleanup();
    }
  });

  test("a repository with a tag or digest is refused: each entry is a tag", () => {
    for (const bad of [`${proxy.host}/team/cache:v1`, `${proxy.host}/team/cache@sha256:${"a".repeat(64)}`, proxy.host]) {
      expect(() => new RegistryLayerCache({ client, repo: bad, ttlMs: HOUR })).toThrow(CacheStoreError);
    }
  });

  test("a key that cannot be a tag is refused", async () => {
    const cache = new RegistryLayerCache({ client, repo, ttlMs: HOUR });
    await expect(cache.get("not/a tag")).rejects.toThrow(CacheStoreError);
  });
});

describe("RegistryLayerCache failures are errors for the caller to warn about", () => {
  test("a 401 on put rejects with the registry's answer; get too", async () => {
    const reg = await startRegistry({ auth: "htpasswd" });
    const dir = await mkdtemp(join(tmpdir(), "kiln-regcache-"));
    try {
      const layer = await tinyLayer(dir, { "x": "x\n" }, "oci");
      const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
      const cache = new RegistryLayerCache({ client, repo: `${reg.host}/team/cache`, ttlMs: HOUR });
      const err = await cache.put(key(1), { layer, createdBy: "RUN x" }).catch((e) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect(err.status).toBe(401);
      expect(err.message).toContain(reg.host);
      expect(err.message).toContain("team/cache");
      const getErr = await cache.get(key(1)).catch((e) => e);
      expect(getErr).toBeInstanceOf(RegistryError);
      expect(getErr.status).toBe(401);

      // With the credentials it works, as a check that the 401 came from them.
      const authed = new RegistryClient({
        logger: silentLogger, insecureRegistries: [reg.host],
        envCredentials: { [reg.host]: { username: reg.username!, password: reg.password! } },
      });
      const ok = new RegistryLayerCache({ client: authed, repo: `${reg.host}/team/cache`, ttlMs: HOUR });
      await ok.put(key(1), { layer, createdBy: "RUN x" });
      expect((await ok.get(key(1)))?.layer?.digest).toBe(layer.digest);
    } finally {
      await reg.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("5xx and an unreachable registry reject", async () => {
    const reg = await startRegistry();
    const proxy = await startFaultProxy(reg.host, [(r) => (r.path.includes("/manifests/") ? { status: 503 } : undefined)]);
    try {
      const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [proxy.host] });
      const cache = new RegistryLayerCache({ client, repo: `${proxy.host}/team/cache`, ttlMs: HOUR });
      expect((await cache.get(key(1)).catch((e) => e)).status).toBe(503);
      expect((await cache.put(key(1), { createdBy: "RUN x" }).catch((e) => e)).status).toBe(503);
    } finally {
      await proxy.stop();
      await reg.stop();
    }
    const gone = new RegistryLayerCache({ client: new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] }), repo: `${reg.host}/team/cache`, ttlMs: HOUR });
    expect((await gone.get(key(1)).catch((e) => e)).code).toBe("ECONNREFUSED");
  });
});
