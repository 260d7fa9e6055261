// kiln's arm64 executor image, from scripts/images.sh --platforms linux/amd64,linux/arm64 --push: the pushed and
// laid-out index names both platforms, and the arm64 image, unpacked and run the way a container runs it (its own
// root, under qemu-user-static registered with binfmt_misc's F flag), builds and pushes an image FROM the arm64
// busybox of a two-platform base, with a COPY and a RUN. Emulated Bun starts slowly: one build only.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupInspected, inspectOciLayout, inspectRegistryImage, runTool, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, ensureBinary, REPO } from "../support/kiln.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusyboxIndex } from "../support/base-images.ts";
import { ensureArm64Emulation } from "../support/binfmt.ts";
import { runContainer } from "../support/container.ts";

let reg: TestRegistry;
let images: string;
let base: string;
const cleanup: string[] = [];
const inspected: InspectedImage[] = [];
const platforms = (index: { manifests: { platform?: { os: string; architecture: string } }[] }) =>
  index.manifests.flatMap((m) => (m.platform ? [`${m.platform.os}/${m.platform.architecture}`] : [])).sort();

beforeAll(async () => {
  const why = ensureArm64Emulation();
  if (why) throw new Error(why);
  await ensureBinary();
  reg = await startRegistry();
  base = await pushBusyboxIndex(reg);
  images = mkdtempSync(join(tmpdir(), "kiln-images-arm64-"));
  cleanup.push(images);
  const p = Bun.spawn(["bash", join(REPO, "scripts/images.sh"), "--out", images, "--platforms", "linux/amd64,linux/arm64", "--push", `${reg.host}/kiln`], {
    cwd: REPO, stdout: "pipe", stderr: "pipe", env: { ...process.env, KILN_FLAGS: "--insecure" },
  });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`images.sh exited ${code}: ${err.slice(-2000)}`);
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  for (const i of inspected) await cleanupInspected(i);
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

test("each layout's index.json and the pushed tags name linux/amd64 and linux/arm64, with OCI annotations", async () => {
  const version = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version;
  for (const [name, tag] of [["executor", version], ["debug", `${version}-debug`]]) {
    const layout = JSON.parse(readFileSync(join(images, name, "index.json"), "utf8"));
    expect(platforms(layout)).toEqual(["linux/amd64", "linux/arm64"]);
    const pushed = JSON.parse(await runTool(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/kiln/executor:${tag}`]));
    expect(pushed.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(platforms(pushed)).toEqual(["linux/amd64", "linux/arm64"]);
    expect(pushed.annotations["org.opencontainers.image.version"]).toBe(tag);
    expect(pushed.annotations["org.opencontainers.image.source"]).toBeDefined();
  }
}, 60_000);

test("the arm64 executor (aarch64 binary and loader) builds and pushes an image from the arm64 base, in place on its own root", async () => {
  // umoci unpacks tagged single manifests: take the arm64 one out of the index first.
  const single = mkdtempSync(join(tmpdir(), "kiln-executor-arm64-"));
  cleanup.push(single);
  await runTool(["skopeo", "copy", "-q", "--override-arch", "arm64", `oci:${join(images, "executor")}:latest`, `oci:${join(single, "l")}:arm64`]);
  const img = await inspectOciLayout(join(single, "l"), "arm64");
  inspected.push(img);
  expect(img.config.architecture).toBe("arm64");
  for (const p of ["kaniko/executor", "kaniko/lib/ld-linux-aarch64.so.1", "kaniko/lib/libc.so.6"]) {
    expect(await runTool(["file", "-L", join(img.rootfsDir, p)])).toContain("ARM aarch64");
  }
  expect(await runTool(["file", join(img.rootfsDir, "kaniko/executor")])).toContain("interpreter /kaniko/lib/ld-linux-aarch64.so.1");

  // The RUN executes the arm64 busybox (emulated) and is snapshotted by the arm64 kiln: the walk once opened
  // directories with x86_64's O_DIRECTORY value (O_DIRECT on arm64), saw an empty root, and the RUN's layer
  // held only a whiteout of /msg.txt, with exit 0.
  const ctx = makeContext({ Dockerfile: `FROM ${base}\nCOPY msg.txt /\nRUN uname -m > /arch.txt\n`, "msg.txt": "from arm64 kiln\n" });
  cleanup.push(ctx);
  const dest = `${reg.host}/from-arm64-executor:v1`;
  const c = img.config.config;
  const r = await runContainer(img.rootfsDir, ctx, c.Env, [...c.Entrypoint, "--context", "dir:///workspace", "--destination", dest,
    "--insecure", "--insecure-pull", "--log-format", "text"]);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  const built = await inspectRegistryImage(dest, { tlsVerify: false });
  inspected.push(built);
  // The executor's own platform (arm64) picked the base's arm64 image and labels the result arm64.
  expect(built.config.architecture).toBe("arm64");
  expect(built.files.get("/msg.txt")?.content).toBe("from arm64 kiln\n");
  expect(built.files.get("/arch.txt")?.content).toBe("aarch64\n");
  expect(await runTool(["file", "-L", join(built.rootfsDir, "bin/busybox")])).toContain("ARM aarch64");
  for (const p of ["/kaniko", "/workspace"]) expect(built.files.get(p)).toBeUndefined();
}, 600_000);
