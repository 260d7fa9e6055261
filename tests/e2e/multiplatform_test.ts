// --platform linux/amd64,linux/arm64 (issue 17): one build, one image per platform under an index, pushed and
// written to every output; the arm64 RUN runs under the qemu binfmt handler the test set-up registers; a
// FROM --platform=$BUILDPLATFORM stage runs once, natively, for both. Checked with skopeo and umoci.
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { pushBusyboxIndex } from "../support/base-images.ts";
import { ensureArm64Emulation } from "../support/binfmt.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { runTool } from "../support/image-assert.ts";

const fx = useBusyboxRegistry();
let multi = "";

beforeAll(async () => {
  expect(ensureArm64Emulation()).toBeUndefined();
  multi = await pushBusyboxIndex(fx.reg);
}, 300_000);

const sha256 = (bytes: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;

/** Copies `arch`'s image of `source` (a skopeo transport:ref) to a layout and unpacks it with umoci; returns the rootfs. */
async function unpackArch(source: string, arch: string): Promise<string> {
  const dir = fx.tmp("kiln-mp-unpack-");
  await runTool(["skopeo", "--override-arch", arch, "--override-os", "linux", "copy", "-q", "--src-tls-verify=false", source, `oci:${join(dir, "layout")}:img`]);
  const rootless = process.getuid?.() !== 0;
  await runTool(["umoci", "unpack", ...(rootless ? ["--rootless"] : []), "--image", `${join(dir, "layout")}:img`, join(dir, "bundle")]);
  return join(dir, "bundle", "rootfs");
}

const platformsOf = (index: any) => index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`).sort();

describe("--platform linux/amd64,linux/arm64", () => {
  test("pushes an index of two images built with their own RUNs; the native stage runs once; local outputs describe the index", async () => {
    // The native stage's output "native-42" appears once in the log only if it ran once (its command text says $((6*7))).
    const ctx = fx.keep(makeContext({
      Dockerfile: [
        `FROM --platform=$BUILDPLATFORM ${multi} AS tools`,
        `RUN echo "native-$((6*7)) on $(uname -m)" && uname -m > /built-on`,
        `FROM ${multi}`,
        `ARG TARGETARCH`,
        `ARG BUILDARCH`,
        `COPY --from=tools /built-on /built-on`,
        `RUN uname -m > /arch && echo "$TARGETARCH $BUILDARCH" > /args`,
        "",
      ].join("\n"),
    }));
    const out = fx.tmp("kiln-mp-out-");
    const dest = `${fx.reg.host}/mp/app:v1`;
    const r = await runKiln([
      "-c", ctx, "--insecure", "--insecure-pull", "-d", dest, "--platform", "linux/amd64,linux/arm64",
      "--oci-layout-path", join(out, "layout"), "--tar-path", join(out, "image.tar"), "--digest-file", join(out, "digest"),
      "--image-name-with-digest-file", join(out, "names"),
    ]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect((r.stdout + r.stderr).match(/native-42 on x86_64/g)).toHaveLength(1);

    // The registry: the tag names an index of the two platforms, whose digest the digest files carry.
    const raw = new Uint8Array(Buffer.from(await runTool(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${dest}`])));
    const index = JSON.parse(new TextDecoder().decode(raw));
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(platformsOf(index)).toEqual(["linux/amd64", "linux/arm64"]);
    const digest = readFileSync(join(out, "digest"), "utf8");
    expect(digest).toBe(sha256(raw));
    expect(readFileSync(join(out, "names"), "utf8")).toBe(`${fx.reg.host}/mp/app@${digest}\n`);

    for (const [arch, machine] of [["amd64", "x86_64"], ["arm64", "aarch64"]]) {
      const root = await unpackArch(`docker://${dest}`, arch);
      expect(readFileSync(join(root, "arch"), "utf8")).toBe(`${machine}\n`);
      expect(readFileSync(join(root, "args"), "utf8")).toBe(`${arch} amd64\n`);
      expect(readFileSync(join(root, "built-on"), "utf8")).toBe("x86_64\n");
      // The OCI layout and the tarball (an OCI archive) hold the same index.
      for (const source of [`oci:${join(out, "layout")}:v1`, `oci-archive:${join(out, "image.tar")}:v1`]) {
        const local = await unpackArch(source, arch);
        expect(readFileSync(join(local, "arch"), "utf8")).toBe(`${machine}\n`);
      }
    }
    const layoutIndex = JSON.parse(readFileSync(join(out, "layout", "index.json"), "utf8"));
    expect(layoutIndex.manifests[0].digest).toBe(digest);
    expect(platformsOf({ manifests: layoutIndex.manifests.slice(1) })).toEqual(["linux/amd64", "linux/arm64"]);
    // The tarball is a docker-archive too: manifest.json lists both images, the host's tagged.
    const archive = JSON.parse(await runTool(["tar", "-xOf", join(out, "image.tar"), "manifest.json"]));
    expect(archive).toHaveLength(2);
    expect(archive.map((m: any) => m.RepoTags)).toEqual([[`${fx.reg.host}/mp/app:v1`], []]);
  }, 600_000);

  test("a base without one of the platforms is one error naming the base and the platforms it has", async () => {
    // No RUN: the build gets as far as pulling the base for each platform.
    const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${multi}\nENV A=1\n` }));
    const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--platform", "linux/amd64,linux/arm/v7"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Dockerfile:1: FROM ${multi}: `);
    expect(r.stderr).toContain("has no image for platform linux/arm/v7 (available: linux/amd64, linux/arm64)");
  }, 300_000);

  test("a RUN for a platform no binfmt handler covers fails before the build, saying how to register one", async () => {
    // Nothing registers riscv64 here (ensureArm64Emulation registers arm64 only).
    expect(readFileSync("/proc/sys/fs/binfmt_misc/status", "utf8")).toContain("enabled");
    const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${multi}\nRUN echo ran-$((1+1))\n` }));
    const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--platform", "linux/amd64,linux/riscv64"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Dockerfile:2: RUN for platform linux/riscv64 needs emulation of riscv64");
    expect(r.stderr).toContain("tonistiigi/binfmt --install riscv64");
    expect(r.stderr).not.toContain("Retrieving image");
    expect(r.stdout + r.stderr).not.toContain("ran-2");
  }, 120_000);
});
