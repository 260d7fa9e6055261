// Retries, chunked uploads and immutable tags against the real registry behind a proxy that injects failures.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { createLogger } from "../log/mod.ts";
import { sha256 } from "../image/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { firstTimes, startFaultProxy, type FaultProxy, type FaultRule } from "../../tests/support/fault-proxy.ts";
import { RegistryClient, RegistryError } from "./mod.ts";
import { readAll, tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

const amd64 = { os: "linux", architecture: "amd64" };
let reg: TestRegistry;
let img: TinyImage;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  reg = await startRegistry();
  img = await tinyImage({ files: [{ "big.bin": Buffer.from(crypto.getRandomValues(new Uint8Array(500_000))).toString("base64") }, { "small.txt": "small\n" }] });
});
afterAll(async () => {
  await reg?.stop();
  await img?.cleanup();
});
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
});

function clientVia(p: FaultProxy, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) {
  const lines: string[] = [];
  const client = new RegistryClient({
    logger: createLogger({ level: "debug", format: "text", write: (l) => lines.push(l) }),
    insecureRegistries: [p.host], retries: 3, retryBackoffMs: 5, ...extra,
  });
  return { client, lines };
}

async function skopeoDigest(ref: string): Promise<string> {
  const p = Bun.spawn(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${ref}`], { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`skopeo inspect ${ref}: ${err}`);
  return out.trim();
}

const isBlobPut = (r: { method: string; path: string }) => r.method === "PUT" && r.path.includes("/blobs/uploads/");
const isManifestPut = (r: { method: string; path: string }) => r.method === "PUT" && r.path.includes("/manifests/");

test("500s, connection resets and 429s on every kind of request are retried and the push completes", async () => {
  const rules: FaultRule[] = [
    firstTimes(1, (r) => r.path === "/v2/", { status: 503 }),
    // Twice in a row: fetch itself silently re-sends once when a reused keep-alive socket was reset.
    firstTimes(2, (r) => r.method === "HEAD", "reset"),
    firstTimes(1, (r) => r.method === "POST", { status: 500 }),
    firstTimes(2, isBlobPut, "reset"),
    firstTimes(1, isBlobPut, { status: 502 }),
    firstTimes(1, isManifestPut, { status: 429, headers: { "retry-after": "0" }, body: JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }) }),
  ];
  proxy = await startFaultProxy(reg.host, rules);
  const { client, lines } = clientVia(proxy);
  const { digest } = await client.push(img.image, [`${proxy.host}/faults/app:1`]);
  expect(await skopeoDigest(`${reg.host}/faults/app:1`)).toBe(digest);
  const injected = proxy.log.filter((l) => l.injected !== undefined).map((l) => l.injected);
  expect(injected.sort()).toEqual([429, 500, 502, 503, "reset", "reset", "reset", "reset"].sort() as (number | "reset")[]);
  // Every fault was seen and backed off from.
  const warned = lines.filter((l) => l.includes("retrying")).join("\n");
  for (const status of ["503", "500", "502", "429"]) expect(warned).toContain(status);
  expect(warned).toContain("ECONNRESET");
});

test("pulls retry a reset blob download and a 500 manifest, and the layer still verifies", async () => {
  await new RegistryClient({ logger: createLogger({ level: "error", format: "text", write: () => {} }), insecureRegistries: [reg.host] })
    .push(img.image, [`${reg.host}/faults/pull:1`]);
  proxy = await startFaultProxy(reg.host, [
    firstTimes(1, (r) => r.path.includes("/manifests/"), { status: 500 }),
    firstTimes(1, (r) => r.method === "GET" && r.path.includes("/blobs/sha256"), "reset"),
  ]);
  const { client } = clientVia(proxy);
  const pulled = await client.pull(`${proxy.host}/faults/pull:1`, amd64);
  const bytes = await readAll(await pulled.image.layers[0].open());
  expect(sha256(bytes) as string).toBe(img.image.layers[0].digest);
  expect(proxy.log.filter((l) => l.injected).length).toBe(2);
});

test("without retries a 429 fails with the registry's code and advice", async () => {
  proxy = await startFaultProxy(reg.host, [
    (r) => (r.path.includes("/manifests/") ? { status: 429, body: JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "You have reached your pull rate limit" }] }) } : undefined),
  ]);
  const { client } = clientVia(proxy, { retries: 0 });
  const err = await client.pull(`${proxy.host}/faults/pull:1`, amd64).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.status).toBe(429);
  expect(err.code).toBe("TOOMANYREQUESTS");
  expect(err.message).toContain("--image-download-retry");
});

test("pull and push retries are separate budgets", async () => {
  proxy = await startFaultProxy(reg.host, [(r) => (r.path === "/v2/" ? { status: 503 } : undefined)]);
  const { client, lines } = clientVia(proxy, { retries: undefined, pullRetries: 1, pushRetries: 3 });
  await client.pull(`${proxy.host}/faults/pull:1`, amd64).catch(() => {});
  expect(lines.filter((l) => l.includes("retrying")).length).toBe(1);
  lines.length = 0;
  await client.push(img.image, [`${proxy.host}/faults/x:1`]).catch(() => {});
  expect(lines.filter((l) => l.includes("retrying")).length).toBe(3);
});

test("a body limit in front of the registry (413) switches to a chunked upload with smaller chunks", async () => {
  const LIMIT = 300 * 1024;
  const tooBig = (r: { method: string; path: string; headers: Record<string, unknown> }) =>
    (r.method === "PUT" || r.method === "PATCH") && Number(r.headers["content-length"] ?? 0) > LIMIT;
  proxy = await startFaultProxy(reg.host, [(r) => (tooBig(r) ? { status: 413, body: "<html>413 Request Entity Too Large</html>" } : undefined)]);
  const { client, lines } = clientVia(proxy, { chunkSize: 1024 * 1024 });
  const { digest } = await client.push(img.image, [`${proxy.host}/faults/chunked:1`]);
  expect(await skopeoDigest(`${reg.host}/faults/chunked:1`)).toBe(digest);
  expect(lines.filter((l) => l.includes("uploaded in chunks"))).toHaveLength(1);
  const patches = proxy.log.filter((l) => l.method === "PATCH" && !l.injected);
  // 1 MiB was refused, then 512 KiB, then 256 KiB pieces went through.
  expect(patches.length).toBe(Math.ceil(img.image.layers[0].size / (256 * 1024)));
  expect(proxy.log.filter((l) => l.method === "PATCH" && l.injected === 413)).toHaveLength(2);
});

test("a chunked upload from a stream (a pulled layer) lands byte for byte", async () => {
  await new RegistryClient({ logger: createLogger({ level: "error", format: "text", write: () => {} }), insecureRegistries: [reg.host] })
    .push(img.image, [`${reg.host}/faults/src:1`]);
  proxy = await startFaultProxy(reg.host, [(r) => (r.method === "PUT" && r.path.includes("/blobs/") && Number(r.headers["content-length"]) > 0 ? { status: 413 } : undefined)]);
  const { client } = clientVia(proxy, { chunkSize: 256 * 1024 });
  const pulled = await new RegistryClient({ logger: createLogger({ level: "error", format: "text", write: () => {} }), insecureRegistries: [reg.host] })
    .pull(`${reg.host}/faults/src:1`, amd64);
  const { digest } = await client.push(pulled.image, [`${proxy.host}/faults/streamed:1`]);
  expect(await skopeoDigest(`${reg.host}/faults/streamed:1`)).toBe(digest);
});

test("an immutable tag fails the push, unless ignoreImmutableTagErrors", async () => {
  const ecr = JSON.stringify({ errors: [{ code: "TAG_INVALID", message: "The image tag '1' already exists in the 'faults/immutable' repository and cannot be overwritten because the repository is immutable." }] });
  proxy = await startFaultProxy(reg.host, [(r) => (isManifestPut(r) && r.path.endsWith("/manifests/1") ? { status: 400, body: ecr } : undefined)]);
  const strict = clientVia(proxy).client;
  const err = await strict.push(img.image, [`${proxy.host}/faults/immutable:1`]).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.message).toContain("cannot be overwritten because the repository is immutable");

  const { client, lines } = clientVia(proxy, { ignoreImmutableTagErrors: true });
  const { digest } = await client.push(img.image, [`${proxy.host}/faults/immutable:1`, `${proxy.host}/faults/immutable:2`]);
  expect(lines.some((l) => l.includes("immutable tag") && l.includes("faults/immutable:1"))).toBe(true);
  // The other tag was pushed; the immutable one was left alone.
  expect(await skopeoDigest(`${reg.host}/faults/immutable:2`)).toBe(digest);
  expect(await skopeoDigest(`${reg.host}/faults/immutable:1`).catch((e) => String(e))).toContain("manifest unknown");

  // Other refusals are still failures.
  await proxy.stop();
  proxy = await startFaultProxy(reg.host, [(r) => (isManifestPut(r) ? { status: 403, body: JSON.stringify({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }) } : undefined)]);
  const other = await clientVia(proxy, { ignoreImmutableTagErrors: true }).client.push(img.image, [`${proxy.host}/faults/immutable:3`]).catch((e) => e);
  expect(other).toBeInstanceOf(RegistryError);
  expect(other.status).toBe(403);
});

test("when one destination's upload fails, no destination gets a tag", async () => {
  proxy = await startFaultProxy(reg.host, [(r) => (r.method === "POST" && r.path.startsWith("/v2/faults/second/") ? { status: 403, body: JSON.stringify({ errors: [{ code: "DENIED", message: "denied" }] }) } : undefined)]);
  const { client } = clientVia(proxy);
  const err = await client.push(img.image, [`${proxy.host}/faults/first:1`, `${proxy.host}/faults/second:1`]).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect(err.status).toBe(403);
  expect(await skopeoDigest(`${reg.host}/faults/first:1`).catch((e) => String(e))).toContain("manifest unknown");
});

test("a registry is pinged once however many pulls and pushes the client makes", async () => {
  proxy = await startFaultProxy(reg.host, []);
  const { client } = clientVia(proxy, { insecurePull: true, insecurePush: true, insecureRegistries: [] });
  await client.checkPushPermission([`${proxy.host}/ping/app:1`]);
  await client.push(img.image, [`${proxy.host}/ping/app:1`]);
  await client.pull(`${proxy.host}/ping/app:1`, amd64);
  await client.pullManifest(`${proxy.host}/ping/app:1`);
  expect(proxy.log.filter((r) => r.path === "/v2/")).toHaveLength(1);
});
