import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxLayout, pushBusybox, registryCertDir } from "./base-images.ts";
import { cleanupInspected, inspectOciLayout, runTool, ToolError } from "./image-assert.ts";
import { startRegistry } from "./registry.ts";

async function manifestDigestOf(layout: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  return index.manifests[0].digest;
}

describe("busyboxLayout", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "kiln-bb-test-"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test("two fresh builds give the same manifest digest as the cached layout", async () => {
    const [a, b, cached] = await Promise.all([
      busyboxLayout({ dir: join(tmp, "a") }),
      busyboxLayout({ dir: join(tmp, "b") }),
      busyboxLayout(),
    ]);
    expect(a).toBe(join(tmp, "a"));
    const digest = await manifestDigestOf(a);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await manifestDigestOf(b)).toBe(digest);
    expect(await manifestDigestOf(cached)).toBe(digest);
  }, 30_000);

  test("a damaged cached layout is rebuilt, not reused", async () => {
    const dir = join(tmp, "damaged");
    await busyboxLayout({ dir });
    const good = await manifestDigestOf(dir);
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    const manifest = JSON.parse(await readFile(join(dir, "blobs/sha256", good.slice(7)), "utf8"));
    await writeFile(join(dir, "blobs/sha256", manifest.layers[0].digest.slice(7)), "truncated");
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("latest");
    await busyboxLayout({ dir });
    const layer = await readFile(join(dir, "blobs/sha256", manifest.layers[0].digest.slice(7)));
    expect(new Bun.CryptoHasher("sha256").update(layer).digest("hex")).toBe(manifest.layers[0].digest.slice(7));
  }, 30_000);

  test("a directory that is not a layout is never replaced", async () => {
    const dir = join(tmp, "precious");
    await Bun.write(join(dir, "keep.txt"), "mine");
    const err = await busyboxLayout({ dir }).catch((e) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err.stderr).toContain("refusing to replace it");
    expect(await readFile(join(dir, "keep.txt"), "utf8")).toBe("mine");
  }, 30_000);

  test("the config says linux, a PATH, sh as command, and one layer", async () => {
    const img = await inspectOciLayout(await busyboxLayout());
    try {
      expect(img.config.os).toBe("linux");
      expect(img.config.config.Cmd).toEqual(["sh"]);
      expect(img.config.config.Env.some((e: string) => e.startsWith("PATH=") && e.includes("/bin"))).toBe(true);
      expect(img.config.rootfs.diff_ids).toHaveLength(1);
      expect(img.config.history).toHaveLength(1);
      expect(img.manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
      expect(img.layers).toBe(1);
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);

  test.skipIf(process.getuid?.() !== 0)("its shell runs in a chroot of the unpacked rootfs", async () => {
    const img = await inspectOciLayout(await busyboxLayout());
    try {
      const out = await runTool(["chroot", img.rootfsDir, "/bin/sh", "-c", "echo hi; id -u; ls /usr/bin/env"]);
      expect(out).toBe("hi\n0\n/usr/bin/env\n");
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);
});

describe("pushBusybox", () => {
  for (const opts of [{}, { auth: "htpasswd" as const, tls: true }]) {
    test(`pushes with the layout's digest (${JSON.stringify(opts)})`, async () => {
      const reg = await startRegistry(opts);
      const certDir = await registryCertDir(reg);
      try {
        const ref = await pushBusybox(reg, "base/busybox", "v1");
        expect(ref).toBe(`${reg.host}/base/busybox:v1`);
        const flags = certDir ? ["--cert-dir", certDir, "--tls-verify=true"] : ["--tls-verify=false"];
        if (reg.username) flags.push("--creds", `${reg.username}:${reg.password}`);
        const info = JSON.parse(await runTool(["skopeo", "inspect", ...flags, `docker://${ref}`]));
        expect(info.Digest).toBe(await manifestDigestOf(await busyboxLayout()));
        expect(info.Os).toBe("linux");
        expect(info.Layers).toHaveLength(1);
      } finally {
        if (certDir) await rm(certDir, { recursive: true, force: true });
        await reg.stop();
      }
    }, 30_000);
  }
});
