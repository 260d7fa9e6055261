import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, silentLogger } from "../log/mod.ts";
import { serializeImage, sha256 } from "../image/mod.ts";
import { freePort, startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { RegistryClient, RegistryError } from "./mod.ts";
import { readAll, tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

const amd64 = { os: "linux", architecture: "amd64" };

async function skopeoInspect(ref: string, raw = false): Promise<any> {
  const p = Bun.spawn(["skopeo", "inspect", ...(raw ? ["--raw"] : []), "--tls-verify=false", `docker://${ref}`], { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`skopeo inspect ${ref} failed: ${err}`);
  return JSON.parse(out);
}

describe("push and pull over plain HTTP", () => {
  let reg: TestRegistry;
  let img: TinyImage;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    img = await tinyImage({ format: "oci" });
    client = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
  });
  afterAll(async () => {
    await reg?.stop();
    await img?.cleanup();
  });

  test("push under two tags, verified by skopeo, then pulled back byte for byte", async () => {
    const { digest } = await client.push(img.image, [`${reg.host}/kiln/app:v1`, `${reg.host}/kiln/app:latest`]);
    expect(digest).toBe(serializeImage(img.image).manifestDescriptor.digest);

    const info = await skopeoInspect(`${reg.host}/kiln/app:v1`);
    expect(info.Digest).toBe(digest);
    expect(info.Layers).toEqual(img.image.layers.map((l) => l.digest));
    expect(info.Architecture).toBe("amd64");
    const raw = await skopeoInspect(`${reg.host}/kiln/app:latest`, true);
    expect(raw.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");

    const pulled = await client.pull(`${reg.host}/kiln/app:v1`, amd64);
    expect(pulled.digest).toBe(digest);
    expect(pulled.image.format).toBe("oci");
    expect(pulled.image.config).toEqual(img.image.config);
    expect(pulled.image.layers.map((l) => [l.digest, l.size, l.diffID, l.mediaType])).toEqual(
      img.image.layers.map((l) => [l.digest, l.size, l.diffID, l.mediaType]));
    expect(pulled.image.layers[0].origin).toEqual({ registry: reg.host, repository: "kiln/app" });
    const bytes = await readAll(await pulled.image.layers[0].open());
    expect(sha256(bytes) as string).toBe(img.image.layers[0].digest);
    expect(bytes).toEqual(new Uint8Array(await Bun.file(img.image.layers[0].path!).arrayBuffer()));
  });

  test("pull by digest, and re-push of a pulled image mounts its layers into another repository", async () => {
    const first = await client.push(img.image, [`${reg.host}/kiln/base:1`]);
    const pulled = await client.pull(`${reg.host}/kiln/base@${first.digest}`, amd64);
    const lines: string[] = [];
    const verbose = new RegistryClient({ logger: createLogger({ level: "debug", format: "text", write: (l) => lines.push(l) }), insecureRegistries: [reg.host] });
    await verbose.push(pulled.image, [`${reg.host}/other/copy:1`]);
    expect(lines.filter((l) => / layer sha256:\S+ mounted/.test(l))).toHaveLength(2);
    // Each blob's upload time is in the debug log (the upload phase of kiln's per-step timings).
    expect(lines.filter((l) => / (layer|config) sha256:\S+ .*uploadMs=\d+/.test(l))).toHaveLength(3);
    const info = await skopeoInspect(`${reg.host}/other/copy:1`);
    expect(info.Digest).toBe(first.digest);

    // A second push finds every blob present and uploads nothing.
    lines.length = 0;
    await verbose.push(pulled.image, [`${reg.host}/other/copy:2`]);
    expect(lines.filter((l) => /already present/.test(l))).toHaveLength(3);
  });

  test("a layer this client put in one repository is mounted into another, also while its upload is in flight", async () => {
    const lines: string[] = [];
    const verbose = new RegistryClient({ logger: createLogger({ level: "debug", format: "text", write: (l) => lines.push(l) }), insecureRegistries: [reg.host] });
    const layerLines = () => lines.filter((l) => / layer sha256:/.test(l)).map((l) => / (uploaded|mounted|already present)/.exec(l)?.[1]);
    await verbose.push(img.image, [`${reg.host}/placed/cache:k`]);
    await verbose.push(img.image, [`${reg.host}/placed/app:1`]);
    const n = img.image.layers.length;
    const times = (what: string) => Array<string>(n).fill(what);
    expect(layerLines()).toEqual([...times("uploaded"), ...times("mounted")]);
    // Two pushes of a layer new to the registry at once: one uploads it, the other waits and mounts it.
    const fresh = await tinyImage({ format: "oci", files: [{ "placed.txt": `${crypto.randomUUID()}\n` }] });
    try {
      lines.length = 0;
      await Promise.all([verbose.push(fresh.image, [`${reg.host}/placed/one:1`]), verbose.push(fresh.image, [`${reg.host}/placed/two:1`])]);
      expect(layerLines().sort()).toEqual(["mounted", "uploaded"]);
      expect((await skopeoInspect(`${reg.host}/placed/two:1`)).Layers).toEqual(fresh.image.layers.map((l) => l.digest));
    } finally {
      await fresh.cleanup();
    }
  });

  test("docker media types are kept on the way through", async () => {
    const d = await tinyImage({ format: "docker", files: [{ "a.txt": "docker\n" }] });
    try {
      const { digest } = await client.push(d.image, [`${reg.host}/kiln/docker:1`]);
      const raw = await skopeoInspect(`${reg.host}/kiln/docker:1`, true);
      expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
      expect(raw.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
      const pulled = await client.pull(`${reg.host}/kiln/docker:1`, amd64);
      expect(pulled.image.format).toBe("docker");
      expect(pulled.digest).toBe(digest);
      expect(serializeImage(pulled.image).manifestDescriptor.digest).toBe(digest);
    } finally {
      await d.cleanup();
    }
  });

  test("a missing tag is a 404 RegistryError naming registry, repo and code", async () => {
    const err = await client.pull(`${reg.host}/kiln/app:nope`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(404);
    expect(err.code).toBe("MANIFEST_UNKNOWN");
    expect(err.message).toContain(reg.host);
    expect(err.message).toContain("kiln/app");
  });

  test("pullManifest reads one manifest and its config, lazily; a missing tag or repository is undefined", async () => {
    const { digest } = await client.push(img.image, [`${reg.host}/kiln/single:1`]);
    const got = await client.pullManifest(`${reg.host}/kiln/single:1`);
    expect(got?.digest).toBe(digest);
    expect(got?.image.config).toEqual(img.image.config);
    expect(got?.image.layers.map((l) => [l.digest, l.diffID, l.origin])).toEqual(
      img.image.layers.map((l) => [l.digest, l.diffID, { registry: reg.host, repository: "kiln/single" }]));
    expect(sha256(await readAll(await got!.image.layers[1].open())) as string).toBe(img.image.layers[1].digest);
    expect(await client.pullManifest(`${reg.host}/kiln/single:nope`)).toBeUndefined();
    expect(await client.pullManifest(`${reg.host}/kiln/never-pushed:1`)).toBeUndefined();
  });

  test("a blob altered in the registry's storage fails the layer stream with a digest mismatch", async () => {
    const t = await tinyImage({ files: [{ "x.txt": "original content\n" }] });
    try {
      await client.push(t.image, [`${reg.host}/kiln/corrupt:1`]);
      const l = t.image.layers[0];
      const hex = l.digest.slice(7);
      const blobPath = `${reg.dataDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
      const bytes = new Uint8Array(await Bun.file(blobPath).arrayBuffer());
      bytes[bytes.length - 1] ^= 0xff;
      await Bun.write(blobPath, bytes);
      const pulled = await client.pull(`${reg.host}/kiln/corrupt:1`, amd64);
      const err = await readAll(await pulled.image.layers[0].open()).catch((e) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect(err.code).toBe("DIGEST_MISMATCH");
      expect(err.message).toContain(l.digest);
    } finally {
      await t.cleanup();
    }
  });

  test("plain HTTP is only used for registries marked insecure", async () => {
    const strict = new RegistryClient({ logger: silentLogger });
    const err = await strict.pull(`${reg.host}/kiln/app:v1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain(reg.host);
    const pullOnly = new RegistryClient({ logger: silentLogger, insecurePull: true });
    expect((await pullOnly.pull(`${reg.host}/kiln/app:v1`, amd64)).image.layers).toHaveLength(2);
  });
});

test("an unreachable registry says so", async () => {
  const port = freePort();
  const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [`127.0.0.1:${port}`] });
  const err = await client.pull(`127.0.0.1:${port}/x:1`, amd64).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.message).toBe(`cannot reach registry 127.0.0.1:${port} (connection refused) for repo x`);
});

test("an image pulled from one registry streams its layers into another", async () => {
  const a = await startRegistry();
  const b = await startRegistry();
  const img = await tinyImage({ files: [{ "big.bin": "x".repeat(300_000) + Math.random() }] });
  try {
    const c = new RegistryClient({ logger: silentLogger, insecureRegistries: [a.host, b.host] });
    const { digest } = await c.push(img.image, [`${a.host}/src/app:1`]);
    const pulled = await c.pull(`${a.host}/src/app:1`, amd64);
    expect(pulled.image.layers[0].path).toBeUndefined();
    expect((await c.push(pulled.image, [`${b.host}/dst/app:1`])).digest).toBe(digest);
    const info = await skopeoInspect(`${b.host}/dst/app:1`);
    expect(info.Digest).toBe(digest);
    const back = await c.pull(`${b.host}/dst/app:1`, amd64);
    expect(sha256(await readAll(await back.image.layers[0].open())) as string).toBe(img.image.layers[0].digest);
  } finally {
    await Promise.all([a.stop(), b.stop(), img.cleanup()]);
  }
});

test("pullManifest of an unreachable registry is an error, not a miss", async () => {
  const port = freePort();
  const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [`127.0.0.1:${port}`] });
  const err = await client.pullManifest(`127.0.0.1:${port}/x/cache:1`).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.code).toBe("ECONNREFUSED");
});

test("retries back off and are logged before giving up", async () => {
  const port = freePort();
  const lines: string[] = [];
  const client = new RegistryClient({
    logger: createLogger({ level: "warn", format: "text", write: (l) => lines.push(l) }),
    insecureRegistries: [`127.0.0.1:${port}`], retries: 2, retryBackoffMs: 5,
  });
  const err = await client.pull(`127.0.0.1:${port}/x:1`, amd64).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.code).toBe("ECONNREFUSED");
  expect(lines.filter((l) => l.includes("retrying"))).toHaveLength(2);
});
