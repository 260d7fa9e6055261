// The registry flags through the CLI: Docker Hub mirrors and --registry-map with fallback order across two
// registries, --custom-platform against a multi-platform index, the push permission check, GitLab CI credentials.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusybox } from "../support/base-images.ts";
import { cleanupInspected, inspectRegistryImage, runTool } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { validateRegistryImage } from "../support/validate-image.ts";
import { RegistryClient } from "../../lib/registry/mod.ts";
import { MediaType, serializeImage, type Platform } from "../../lib/image/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { tinyImage, type TinyImage } from "../support/tiny-image.ts";

// Each test runs the CLI (a build and a push or two): seconds on a busy 2-core machine, not milliseconds.
setDefaultTimeout(60_000);

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

function context(files: Record<string, string>): string {
  const dir = makeContext(files);
  cleanup.push(dir);
  return dir;
}

function deadHost(): string {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const host = `127.0.0.1:${s.port}`;
  s.stop(true);
  return host;
}

describe("mirrors and registry-map across two registries", () => {
  let origin: TestRegistry, mirror: TestRegistry;
  beforeAll(async () => {
    [origin, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    // The mirror holds Docker Hub's library/busybox under a prefix, as a pull-through cache would.
    await pushBusybox(mirror, "hub/library/busybox", "latest");
    await pushBusybox(origin, "team/base", "1");
  }, 60_000);
  afterAll(async () => {
    await Promise.all([origin?.stop(), mirror?.stop()]);
  });

  test("FROM busybox resolves through KANIKO_REGISTRY_MIRROR (a dead mirror first) without touching Docker Hub", async () => {
    const dead = deadHost();
    const ctx = context({ Dockerfile: "FROM busybox\nRUN echo mirrored > /m.txt\n" });
    const dest = `${mirror.host}/out/mirrored:1`;
    const r = await runKiln([
      "-c", ctx, "-d", dest, "--skip-default-registry-fallback",
      "--insecure-registry", mirror.host, "--insecure-registry", dead,
    ], { env: { KANIKO_REGISTRY_MIRROR: `${dead};${mirror.host}/hub` } });
    expect(r.stderr).toContain(`mirror ${dead} failed`);
    expect(r.code).toBe(0);
    expect(await validateRegistryImage(dest)).toEqual([]);
    const img = await inspectRegistryImage(dest);
    try {
      expect(img.files.get("/m.txt")?.content).toBe("mirrored\n");
      expect(img.files.get("/bin/busybox")?.type).toBe("file");
    } finally {
      await cleanupInspected(img);
    }
  });

  test("--registry-map falls back to the registry itself, or fails with --skip-default-registry-fallback", async () => {
    const ctx = context({ Dockerfile: `FROM ${origin.host}/team/base:1\nCOPY a.txt /a.txt\n`, "a.txt": "a\n" });
    const common = ["-c", ctx, "--insecure-registry", origin.host, "--insecure-registry", mirror.host,
      "--registry-map", `${origin.host}=${mirror.host};${mirror.host}/elsewhere`];
    const ok = await runKiln([...common, "-d", `${origin.host}/out/mapped:1`]);
    expect(ok.stderr).toContain(`mirror ${mirror.host}/elsewhere failed`);
    expect(ok.code).toBe(0);
    expect(await validateRegistryImage(`${origin.host}/out/mapped:1`)).toEqual([]);
    const strict = await runKiln([...common, "-d", `${origin.host}/out/mapped:2`, "--skip-default-registry-fallback"]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("--skip-default-registry-fallback forbids");
    expect(strict.stderr).toContain("Dockerfile:1");
  });

  test("a malformed --registry-map is a flag error", async () => {
    const r = await runKiln(["-c", context({ Dockerfile: "FROM scratch\n" }), "--no-push", "--registry-map", "=nothing"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--registry-map");
  });
});

describe("--custom-platform against a multi-platform index", () => {
  let reg: TestRegistry;
  const images: TinyImage[] = [];
  beforeAll(async () => {
    reg = await startRegistry();
    const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
    const platforms: Platform[] = [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }];
    const manifests = [];
    for (const p of platforms) {
      const img = await tinyImage({ platform: p, files: [{ "arch.txt": `${p.architecture}\n` }] });
      images.push(img);
      await client.push(img.image, [`${reg.host}/multi/base:${p.architecture}`]);
      const m = serializeImage(img.image).manifestDescriptor;
      manifests.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: p });
    }
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests });
    const res = await fetch(`${reg.url}/v2/multi/base/manifests/latest`, { method: "PUT", body, headers: { "content-type": MediaType.ociIndex } });
    expect(res.status).toBe(201);
    // kiln's client pushed the images the index names.
    expect(await validateRegistryImage(`${reg.host}/multi/base:latest`)).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    for (const i of images) await i.cleanup();
  });

  for (const [platform, arch] of [["linux/arm64", "arm64"], ["linux/amd64", "amd64"]]) {
    test(`${platform} builds on that platform's base and says so in the config`, async () => {
      const ctx = context({ Dockerfile: `FROM ${reg.host}/multi/base\nCOPY note.txt /note.txt\n`, "note.txt": "n\n" });
      const dest = `${reg.host}/multi/app:${arch}`;
      const r = await runKiln(["-c", ctx, "-d", dest, "--insecure-registry", reg.host, "--custom-platform", platform]);
      if (r.code !== 0) console.error(r.stderr);
      expect(r.code).toBe(0);
      expect(await validateRegistryImage(dest)).toEqual([]);
      const raw = JSON.parse(await runTool(["skopeo", "inspect", "--tls-verify=false", "--config", "--raw", `docker://${dest}`]));
      expect(raw.architecture).toBe(arch);
      expect(raw.os).toBe("linux");
      const img = await inspectRegistryImage(dest);
      try {
        expect(img.files.get("/arch.txt")?.content).toBe(`${arch}\n`);
      } finally {
        await cleanupInspected(img);
      }
    });
  }

  test("a platform the index lacks fails naming what it has", async () => {
    const ctx = context({ Dockerfile: `FROM ${reg.host}/multi/base\n` });
    const r = await runKiln(["-c", ctx, "--no-push", "--insecure-registry", reg.host, "--custom-platform", "linux/s390x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8)");
  });
});

describe("push permission check and GitLab CI credentials", () => {
  let reg: TestRegistry, pub: TestRegistry;
  let ctx: string, privateCtx: string;
  beforeAll(async () => {
    [reg, pub] = await Promise.all([startRegistry({ auth: "htpasswd" }), startRegistry()]);
    await Promise.all([pushBusybox(reg), pushBusybox(pub)]);
    // The base comes from an open registry, so only the push needs rights.
    ctx = context({ Dockerfile: `FROM ${pub.host}/busybox\nRUN echo STEP-RAN\n` });
    privateCtx = context({ Dockerfile: `FROM ${reg.host}/busybox\nRUN echo STEP-RAN\n` });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([reg?.stop(), pub?.stop()]);
  });
  const insecure = () => ["--insecure-registry", reg.host, "--insecure-registry", pub.host];

  test("without push rights the build stops before its first step", async () => {
    const r = await runKiln(["-c", ctx, "-d", `${reg.host}/perm/app:1`, ...insecure()], { env: { DOCKER_CONFIG: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no permission to push to ${reg.host}/perm/app`);
    expect(r.stdout + r.stderr).not.toContain("STEP-RAN");
  });

  test("--skip-push-permission-check builds, then the push fails", async () => {
    const r = await runKiln(["-c", ctx, "-d", `${reg.host}/perm/app:1`, ...insecure(), "--skip-push-permission-check"],
      { env: { DOCKER_CONFIG: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("STEP-RAN");
    expect(r.stderr).toContain("401");
  });

  test("CI_REGISTRY, CI_REGISTRY_USER and CI_REGISTRY_PASSWORD pull the base and push the result", async () => {
    const dest = `${reg.host}/perm/app:2`;
    const r = await runKiln(["-c", privateCtx, "-d", dest, ...insecure()], {
      env: { DOCKER_CONFIG: "/nonexistent", CI_REGISTRY: reg.host, CI_REGISTRY_USER: reg.username!, CI_REGISTRY_PASSWORD: reg.password! },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("STEP-RAN");
    expect(await validateRegistryImage(dest, { creds: `${reg.username}:${reg.password}` })).toEqual([]);
    const img = await inspectRegistryImage(dest, { creds: `${reg.username}:${reg.password}` });
    try {
      expect(img.files.get("/bin/busybox")?.type).toBe("file");
    } finally {
      await cleanupInspected(img);
    }
  });
});

describe("a base layer altered in the registry's storage", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  test("fails the build naming the layer and both digests, and writes nothing", async () => {
    const ref = await pushBusybox(reg, "altered/busybox");
    const pulled = await new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] }).pull(ref, { os: "linux", architecture: "amd64" });
    const layer = pulled.image.layers[0];
    const hex = layer.digest.slice("sha256:".length);
    // Another valid gzip tar in its place: only the digest check can tell.
    const other = context({ "x.txt": "not busybox\n" });
    await runTool(["bash", "-c", `tar -C ${other} -czf ${reg.dataDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data x.txt`]);
    const out = context({});
    const r = await runKiln(["-c", context({ Dockerfile: `FROM ${ref}\nRUN true\n` }), "--no-push", "--insecure-pull", "--tar-path", `${out}/image.tar`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(layer.digest);
    expect(r.stderr).toContain("altered");
    expect(await Bun.file(`${out}/image.tar`).exists()).toBe(false);
  });
});
