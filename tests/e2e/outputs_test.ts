// Outputs never destroy what kiln did not write: destinations are checked before the build starts (one line,
// exit 1, nothing pulled, run or pushed), a bind-mounted file (kaniko's `--digest-file /dev/termination-log`) is
// written in place, and an interrupted build leaves no hidden partial file beside its destination.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { busyboxLayout } from "../support/base-images.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { layoutManifest } from "../support/layers.ts";
import { makeContext, runKiln, spawnKiln } from "../support/kiln.ts";
import { manifestOf } from "../support/registry.ts";

const fx = useBusyboxRegistry();
const tmp = fx.tmp;

/** A Dockerfile whose RUN prints a marker: seeing it means the build started. */
const context = () => fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo the-build-ran > /ran.txt && echo the-build-ran\n` }));

function expectRefusedBeforeBuilding(r: { code: number; stdout: string; stderr: string }, text: string) {
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(text);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stdout + r.stderr).not.toContain("the-build-ran");
  expect(r.stderr).not.toContain("Retrieving image");
}

/** Whether the registry holds `repo:tag` (asked of the registry itself, not through kiln). */
async function tagExists(repo: string, tag: string): Promise<boolean> {
  return (await manifestOf(fx.reg.host, repo, tag)) !== undefined;
}

describe("destinations checked before the build", () => {
  for (const flag of ["--tar-path", "--digest-file", "--image-name-with-digest-file", "--image-name-tag-with-digest-file"]) {
    test(`${flag} naming an existing directory is refused and the directory kept`, async () => {
      const dir = tmp("kiln-out-dir-");
      writeFileSync(join(dir, "keep.txt"), "mine");
      const r = await runKiln(["-c", context(), "--no-push", "--insecure-pull", "-d", `${fx.reg.host}/outputs/x:v1`, flag, dir]);
      expectRefusedBeforeBuilding(r, `${flag} ${dir}: is a directory`);
      expect(readFileSync(join(dir, "keep.txt"), "utf8")).toBe("mine");
      expect(readdirSync(dir)).toEqual(["keep.txt"]);
    });
  }

  test("--tar-path . (the context directory) is refused; the context stays", async () => {
    const ctx = context();
    const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--tar-path", "."], { cwd: ctx });
    expectRefusedBeforeBuilding(r, `--tar-path ${ctx}: is a directory`);
    expect(readFileSync(join(ctx, "Dockerfile"), "utf8")).toContain("the-build-ran");
  });

  test("--oci-layout-path naming a non-empty directory that is not a layout is refused", async () => {
    const dir = tmp("kiln-out-notlayout-");
    writeFileSync(join(dir, "keep.txt"), "mine");
    const r = await runKiln(["-c", context(), "--no-push", "--insecure-pull", "--oci-layout-path", dir]);
    expectRefusedBeforeBuilding(r, `--oci-layout-path ${dir}: is a directory that is neither empty nor an OCI image layout`);
    expect(readdirSync(dir)).toEqual(["keep.txt"]);
  });

  test("--oci-layout-path: an empty directory is filled and an earlier layout replaced", async () => {
    const dir = tmp("kiln-out-layout-");
    const ctx = context();
    const first = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--oci-layout-path", dir]);
    expect(first.stderr).not.toContain("error");
    expect(first.code).toBe(0);
    expect(existsSync(join(dir, "oci-layout"))).toBe(true);
    const again = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--oci-layout-path", dir]);
    expect(again.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
  });

  test("a destination whose directory does not exist gets one line, not a stack trace", async () => {
    const missing = join(tmp("kiln-out-missing-"), "missing-dir");
    const r = await runKiln(["-c", context(), "--no-push", "--insecure-pull", "--tar-path", join(missing, "x.tar")]);
    expectRefusedBeforeBuilding(r, `the directory ${missing} does not exist`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test("two outputs naming one file are refused", async () => {
    const f = join(tmp("kiln-out-same-"), "digest");
    const r = await runKiln(["-c", context(), "--no-push", "--insecure-pull", "-d", `${fx.reg.host}/outputs/x:v1`, "--digest-file", f, "--image-name-with-digest-file", f]);
    expectRefusedBeforeBuilding(r, "names the same path");
  });

  test("a --digest-file problem is found before pushing: no tag is written", async () => {
    const dir = tmp("kiln-out-pushdir-");
    const dest = `${fx.reg.host}/outputs/refused:v1`;
    const r = await runKiln(["-c", context(), "--insecure-registry", fx.reg.host, "-d", dest, "--digest-file", dir]);
    expectRefusedBeforeBuilding(r, `--digest-file ${dir}: is a directory`);
    expect(await tagExists("outputs/refused", "v1")).toBe(false);
  });
});

describe("a bind-mounted destination (kaniko's --digest-file /dev/termination-log)", () => {
  test("is written in place, with the other outputs, inside a private mount namespace", async () => {
    const dir = tmp("kiln-out-bind-");
    // `target` plays /dev/termination-log: a file with a file bind-mounted onto it (rename gives EBUSY there).
    const source = join(dir, "host-termination-log"), target = join(dir, "termination-log");
    writeFileSync(source, "old\n");
    writeFileSync(target, "");
    const tar = join(dir, "image.tar");
    const dest = `${fx.reg.host}/outputs/bind:v1`;
    const run = spawnKiln(["-c", context(), "--insecure-registry", fx.reg.host, "-d", dest, "--digest-file", target, "--tar-path", tar], {
      prefix: ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", source, target],
    });
    const r = await run.done();
    expect(r.stderr).not.toContain("EBUSY");
    expect(r.code).toBe(0);
    const digest = readFileSync(source, "utf8");
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.stderr + r.stdout).toContain(digest);
    expect(existsSync(tar)).toBe(true);
    // Outside the namespace the mount point's own file was never replaced, and nothing was left beside it.
    expect(readFileSync(target, "utf8")).toBe("");
    expect(readdirSync(dir).sort()).toEqual(["host-termination-log", "image.tar", "termination-log"]);
    expect(await tagExists("outputs/bind", "v1")).toBe(true);
  });
});

describe("an interrupted --tar-path", () => {
  test("SIGTERM while the tarball is being written leaves no hidden partial file", async () => {
    // Behind a proxy that never answers blob downloads, the tarball stalls while it copies the base's layer
    // (a LABEL-only Dockerfile never unpacks the base, so the first download is the tarball's).
    const layer: string = layoutManifest(await busyboxLayout()).layers[0].digest;
    const proxy = await startFaultProxy(fx.reg.host, [(r) => (r.method === "GET" && r.path.endsWith(`/blobs/${layer}`) ? "hang" : undefined)]);
    try {
      const base = fx.base.replace(fx.reg.host, proxy.host);
      const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${base}\nLABEL stage=tar\n` }));
      const dir = tmp("kiln-out-tarint-");
      const tempDir = tmp("kiln-out-tmpdir-");
      const run = spawnKiln(["-c", ctx, "--no-push", "--insecure-pull", "--tar-path", join(dir, "image.tar")], { env: { TMPDIR: tempDir } });
      // Staged and half-written: the copy of the layer is waiting for the download.
      while (!proxy.log.some((l) => l.injected === "hang") || !readdirSync(dir).some((n) => n.startsWith(".image.tar."))) {
        if (run.proc.exitCode !== null) throw new Error(`kiln exited: ${(await run.done()).stderr}`);
        await Bun.sleep(50);
      }
      run.proc.kill("SIGTERM");
      const r = await run.done();
      expect(r.code).toBe(143);
      expect(r.stderr).toContain("interrupted by SIGTERM");
      expect(readdirSync(dir)).toEqual([]);
      expect(readdirSync(tempDir)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe("an interrupted push", () => {
  test("SIGTERM during the upload leaves nothing in TMPDIR and no tag", async () => {
    const proxy = await startFaultProxy(fx.reg.host, [(r) => (r.method !== "GET" && r.method !== "HEAD" && r.path.includes("/blobs/uploads/") ? "hang" : undefined)]);
    try {
      const tempDir = tmp("kiln-push-tmpdir-");
      const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN head -c 3000000 /dev/urandom > /big\n` }));
      const dest = `${proxy.host}/outputs/interrupted:v1`;
      const run = spawnKiln(["-c", ctx, "--insecure-registry", proxy.host, "--insecure-registry", fx.reg.host, "-d", dest, "--skip-push-permission-check"], {
        env: { TMPDIR: tempDir },
      });
      await run.waitFor("Pushing image");
      while (!proxy.log.some((l) => l.injected === "hang")) {
        if (run.proc.exitCode !== null) break;
        await Bun.sleep(50);
      }
      run.proc.kill("SIGTERM");
      const r = await run.done();
      expect(r.code).toBe(143);
      expect(readdirSync(tempDir)).toEqual([]);
      expect(await tagExists("outputs/interrupted", "v1")).toBe(false);
    } finally {
      await proxy.stop();
    }
  });
});
