// The warmer round trip: `kiln warmer` (and the binary started as `warmer`) fetches base images into --cache-dir,
// an OCI layout skopeo reads; a build then takes its base from there even when the registry no longer has it.
// Tags expire after --cache-ttl, digests never; --force refetches; a missing image is one error line and exit 1.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { pushBusybox } from "../support/base-images.ts";
import { runTool } from "../support/image-assert.ts";
import { ensureBinary, makeContext, runKiln } from "../support/kiln.ts";
import { manifestDigestOf } from "../support/registry.ts";

setDefaultTimeout(120_000);

const fx = useBusyboxRegistry();

interface IndexEntry { digest: string; annotations: Record<string, string> }
const entries = (dir: string): IndexEntry[] => JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests;
const refName = (e: IndexEntry) => e.annotations["org.opencontainers.image.ref.name"];

/** The layer digests skopeo (not kiln) reads from an image. */
async function skopeoLayers(transportRef: string, extra: string[] = []): Promise<string[]> {
  return JSON.parse(await runTool(["skopeo", "inspect", ...extra, transportRef])).Layers;
}

/** Makes `repo` unanswerable: its manifests and blob links go from the registry's storage. */
function deleteRepository(repo: string): void {
  const dir = join(fx.reg.dataDir, "docker/registry/v2/repositories", repo);
  expect(existsSync(dir)).toBe(true);
  rmSync(dir, { recursive: true, force: true });
}

async function manifestDigest(ref: string): Promise<string> {
  const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(ref)!;
  return manifestDigestOf(fx.reg.host, repo, tag);
}

const warmer = (args: string[], cacheDir: string) => runKiln(["warmer", "--cache-dir", cacheDir, "--insecure-registry", fx.reg.host, ...args]);

const build = (from: string, args: string[]) => {
  const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${from}\nRUN echo built-on-cached-base > /proof.txt\n` }));
  return runKiln(["-c", ctx, "--no-push", "--insecure-registry", fx.reg.host, "--tar-path", join(fx.tmp(), "out.tar"), ...args]);
};

describe("warm, then build without the registry", () => {
  test("the base comes from --cache-dir once its repository is gone; a tag past --cache-ttl does not, a digest does", async () => {
    const tagRef = await pushBusybox(fx.reg, "warm/base", "1");
    const digestRef = `${fx.reg.host}/warm/base@${await manifestDigest(tagRef)}`;
    const cacheDir = join(fx.tmp(), "cache");

    const w = await warmer(["--image", tagRef, "-i", digestRef], cacheDir);
    expect(w.stderr).toContain(`Cached ${tagRef}`);
    expect(w.code).toBe(0);
    expect(entries(cacheDir).map(refName).sort()).toEqual([tagRef, digestRef].sort());
    // An independent reader finds the images by their reference in the layout, with the registry's layers.
    const fromRegistry = await skopeoLayers(`docker://${tagRef}`, ["--tls-verify=false"]);
    expect(await skopeoLayers(`oci:${cacheDir}:${tagRef}`)).toEqual(fromRegistry);
    expect(await skopeoLayers(`oci:${cacheDir}:${digestRef}`)).toEqual(fromRegistry);

    const digestFile = (name: string) => join(fx.tmp(), name);
    const fromRegistryDigest = digestFile("registry.digest");
    expect((await build(tagRef, ["--reproducible", "--digest-file", fromRegistryDigest])).code).toBe(0);

    deleteRepository("warm/base");
    const uncached = await build(tagRef, ["--cache-dir", join(fx.tmp(), "empty-cache")]);
    expect(uncached.code).toBe(1);
    expect(uncached.stderr).toMatch(/FROM .*warm\/base:1: .*404/);

    const fromCacheDigest = digestFile("cache.digest");
    const cached = await build(tagRef, ["--cache-dir", cacheDir, "--reproducible", "--digest-file", fromCacheDigest]);
    expect(cached.stderr).toContain(`Found ${tagRef} in the base-image cache ${cacheDir}`);
    expect(cached.code).toBe(0);
    expect(cached.stdout + cached.stderr).not.toContain("Retrieving image");
    // The same image as when the base came from the registry.
    expect(readFileSync(fromCacheDigest, "utf8")).toBe(readFileSync(fromRegistryDigest, "utf8"));

    const expired = await build(tagRef, ["--cache-dir", cacheDir, "--cache-ttl", "1ms"]);
    expect(expired.stderr).toContain("longer ago than --cache-ttl");
    expect(expired.code).toBe(1);

    const pinned = await build(digestRef, ["--cache-dir", cacheDir, "--cache-ttl", "1ms"]);
    expect(pinned.stderr).toContain(`Found ${digestRef} in the base-image cache`);
    expect(pinned.code).toBe(0);
  });
});

describe("the warmer's flags", () => {
  test("a fresh entry is skipped; --force fetches it again", async () => {
    const ref = await pushBusybox(fx.reg, "warm/force", "1");
    const cacheDir = fx.tmp();
    expect((await warmer(["--image", ref], cacheDir)).code).toBe(0);
    const first = entries(cacheDir)[0].annotations["dev.kiln.cache.fetched"];

    const again = await warmer(["--image", ref], cacheDir);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`${ref} (linux/amd64) is already in the cache`);
    expect(entries(cacheDir)[0].annotations["dev.kiln.cache.fetched"]).toBe(first);

    const forced = await warmer(["--image", ref, "--force"], cacheDir);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(`Cached ${ref}`);
    expect(entries(cacheDir)).toHaveLength(1);
    expect(Date.parse(entries(cacheDir)[0].annotations["dev.kiln.cache.fetched"])).toBeGreaterThan(Date.parse(first));
  });

  test("--dockerfile with --build-arg caches every FROM image, not stages or scratch", async () => {
    const ref = await pushBusybox(fx.reg, "warm/df", "2");
    const ctx = fx.keep(makeContext({
      Dockerfile: `ARG TAG=1\nFROM ${fx.reg.host}/warm/df:\${TAG} AS one\nFROM one AS two\nFROM scratch\nCOPY --from=two /bin/sh /sh\n`,
    }));
    const cacheDir = fx.tmp();
    const r = await warmer(["--dockerfile", join(ctx, "Dockerfile"), "--build-arg", "TAG=2"], cacheDir);
    expect(r.code).toBe(0);
    expect(entries(cacheDir).map(refName)).toEqual([ref]);
  });

  test("a missing image is one error line and exit 1; the other images are cached all the same", async () => {
    const good = await pushBusybox(fx.reg, "warm/good", "1");
    const missing = `${fx.reg.host}/warm/missing:1`;
    const cacheDir = fx.tmp();
    const r = await warmer(["-v", "error", "--image", missing, "--image", good], cacheDir);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot cache ${missing}: 404 not found`);
    expect(entries(cacheDir).map(refName)).toEqual([good]);
  });

  test("no image to warm is a flag error (exit 2)", async () => {
    const r = await runKiln(["warmer", "--cache-dir", fx.tmp()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("give at least one --image or a --dockerfile");
  });
});

test("the compiled binary started as `warmer` (the /kaniko/warmer symlink) is the warmer", async () => {
  const ref = await pushBusybox(fx.reg, "warm/binary", "1");
  const bin = fx.tmp();
  symlinkSync(await ensureBinary(), join(bin, "warmer"));
  const cacheDir = fx.tmp();
  const p = Bun.spawn([join(bin, "warmer"), "--cache-dir", cacheDir, "--image", ref, "--insecure-pull"], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(stderr).toContain(`Cached ${ref}`);
  expect(code).toBe(0);
  expect(await skopeoLayers(`oci:${cacheDir}:${ref}`)).toHaveLength(1);
});
