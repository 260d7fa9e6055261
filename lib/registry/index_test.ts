import { afterAll, beforeAll, expect, test } from "bun:test";
import { silentLogger } from "../log/mod.ts";
import { MediaType, serializeImage, sha256 } from "../image/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { RegistryClient, RegistryError } from "./mod.ts";
import { tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

let reg: TestRegistry;
let amd: TinyImage, arm: TinyImage;
let client: RegistryClient;
let digests: { amd: string; arm: string; index: string };

beforeAll(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
  amd = await tinyImage({ platform: { os: "linux", architecture: "amd64" } });
  arm = await tinyImage({ platform: { os: "linux", architecture: "arm64", variant: "v8" } });
  const a = await client.push(amd.image, [`${reg.host}/multi/app:amd64`]);
  const b = await client.push(arm.image, [`${reg.host}/multi/app:arm64`]);
  const entry = (img: TinyImage, platform: object) => {
    const m = serializeImage(img.image).manifestDescriptor;
    return { mediaType: m.mediaType, digest: m.digest, size: m.size, platform };
  };
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      entry(amd, { os: "linux", architecture: "amd64" }),
      entry(arm, { os: "linux", architecture: "arm64", variant: "v8" }),
      // BuildKit attestation manifests sit in indexes with an unknown platform; they must never be picked.
      { ...entry(amd, { os: "unknown", architecture: "unknown" }), annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
    ],
  };
  const bytes = new TextEncoder().encode(JSON.stringify(index));
  const res = await fetch(`${reg.url}/v2/multi/app/manifests/latest`, { method: "PUT", body: bytes, headers: { "content-type": MediaType.ociIndex } });
  expect(res.status).toBe(201);
  digests = { amd: a.digest, arm: b.digest, index: sha256(bytes) };
});

afterAll(async () => {
  await reg?.stop();
  await amd?.cleanup();
  await arm?.cleanup();
});

test("each platform of an index resolves to its own manifest", async () => {
  const a = await client.pull(`${reg.host}/multi/app:latest`, { os: "linux", architecture: "amd64" });
  expect(a.digest).toBe(digests.amd);
  expect(a.indexDigest).toBe(digests.index);
  expect(a.image.config.architecture).toBe("amd64");
  const b = await client.pull(`${reg.host}/multi/app:latest`, { os: "linux", architecture: "arm64" });
  expect(b.digest).toBe(digests.arm);
  expect(b.image.layers.map((l) => l.digest)).toEqual(arm.image.layers.map((l) => l.digest));
  const byDigest = await client.pull(`${reg.host}/multi/app@${digests.index}`, { os: "linux", architecture: "arm64", variant: "v8" });
  expect(byDigest.digest).toBe(digests.arm);
});

test("pullManifest refuses an index: it reads single manifests only", async () => {
  const err = await client.pullManifest(`${reg.host}/multi/app:latest`).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.message).toContain("is an index, not a single image manifest");
});

test("a platform the index lacks is an error listing what it has", async () => {
  const err = await client.pull(`${reg.host}/multi/app:latest`, { os: "linux", architecture: "s390x" }).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.code).toBe("PLATFORM_NOT_FOUND");
  expect(err.message).toContain("linux/s390x");
  expect(err.message).toContain("available: linux/amd64, linux/arm64/v8)");
});

test("a schema 1 manifest is rejected with a clear message", async () => {
  // Making a signed schema 1 manifest is not worth it here: a tiny HTTP endpoint serves one instead.
  const srv = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: (req) => new URL(req.url).pathname === "/v2/"
      ? new Response("{}")
      : new Response(JSON.stringify({ schemaVersion: 1, name: "old", tag: "1", fsLayers: [] }), { headers: { "content-type": MediaType.dockerSchema1Signed } }),
  });
  try {
    const host = `127.0.0.1:${srv.port}`;
    const c = new RegistryClient({ logger: silentLogger, insecureRegistries: [host] });
    const err = await c.pull(`${host}/old:1`, { os: "linux", architecture: "amd64" }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain("schema 1");
  } finally {
    srv.stop(true);
  }
});
