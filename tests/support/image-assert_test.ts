import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, chown, cp, link, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxLayout, pushBusybox } from "./base-images.ts";
import {
  cleanupInspected, ImageCheckError, type InspectedImage, inspectDockerArchive, inspectOciLayout, inspectRegistryImage,
  runTool, ToolError,
} from "./image-assert.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";

const EPOCH_2000 = 946684800;

let tmp: string;
let layout: string;
let fromLayout: InspectedImage;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "kiln-assert-test-"));
  layout = await busyboxLayout();
  fromLayout = await inspectOciLayout(layout);
}, 30_000);

afterAll(async () => {
  if (fromLayout) await cleanupInspected(fromLayout);
  await rm(tmp, { recursive: true, force: true });
});

/** Files as plain objects sorted by path, so two trees compare with one toEqual. */
function listing(img: InspectedImage) {
  return [...img.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

describe("inspectOciLayout on the busybox layout", () => {
  test("reports the busybox binary with the host binary's bytes", async () => {
    const bb = fromLayout.files.get("/bin/busybox");
    const host = new Bun.CryptoHasher("sha256").update(await readFile("/bin/busybox")).digest("hex");
    expect(bb).toMatchObject({ type: "file", mode: 0o755, uid: 0, gid: 0, sha256: host, mtime: EPOCH_2000 });
    expect(bb?.content).toBeUndefined(); // binary, and larger than the text limit
  });

  test("reports symlinks, modes with the sticky bit, and text content", () => {
    expect(fromLayout.files.get("/bin/sh")).toMatchObject({ type: "symlink", linkTarget: "/bin/busybox" });
    expect(fromLayout.files.get("/tmp")).toMatchObject({ type: "dir", mode: 0o1777, uid: 0, gid: 0 });
    expect(fromLayout.files.get("/root")?.mode).toBe(0o700);
    const passwd = fromLayout.files.get("/etc/passwd");
    expect(passwd?.type).toBe("file");
    expect(passwd?.content?.split("\n")[0]).toBe("root:x:0:0:root:/root:/bin/sh");
    expect(passwd?.size).toBe(Buffer.byteLength(passwd?.content ?? ""));
    expect(fromLayout.files.has("/")).toBe(false);
  });

  test("reports digests that match the layout's index and manifest", async () => {
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
    expect(fromLayout.manifestDigest).toBe(index.manifests[0].digest);
    expect(fromLayout.configDigest).toBe(fromLayout.manifest.config.digest);
    expect(fromLayout.layers).toBe(1);
  });

  test("a layout whose index has no ref.name is read through a tagged copy", async () => {
    const dir = join(tmp, "untagged");
    await cp(layout, dir, { recursive: true });
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    delete index.manifests[0].annotations;
    await writeFile(join(dir, "index.json"), JSON.stringify(index));
    const img = await inspectOciLayout(dir);
    try {
      expect(img.manifestDigest).toBe(fromLayout.manifestDigest);
      expect(listing(img)).toEqual(listing(fromLayout));
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);

  test("an unknown tag fails naming the tags there are", async () => {
    const err = await inspectOciLayout(layout, "nope").catch((e) => e);
    expect(err).toBeInstanceOf(ImageCheckError);
    expect(err.message).toContain('"nope"');
    expect(err.message).toContain("latest");
  });

  test("a config blob whose bytes do not match its digest is reported", async () => {
    const dir = join(tmp, "corrupt");
    await cp(layout, dir, { recursive: true });
    await writeFile(join(dir, "blobs/sha256", fromLayout.configDigest.slice(7)), "{}");
    const err = await inspectOciLayout(dir).catch((e) => e);
    expect(err).toBeInstanceOf(ImageCheckError);
    expect(err.message).toContain(fromLayout.configDigest);
  });
});

describe("images made by umoci", () => {
  test("hardlinks, devices, setuid, owners and deletions show as the flattened tree", async () => {
    const dir = join(tmp, "repacked");
    const bundle = join(tmp, "bundle");
    await cp(layout, dir, { recursive: true });
    await runTool(["umoci", "unpack", "--image", `${dir}:latest`, bundle]);
    const root = join(bundle, "rootfs");
    await link(join(root, "etc/group"), join(root, "etc/group.hard"));
    await runTool(["mknod", "-m", "0666", join(root, "dev/null"), "c", "1", "3"]);
    await writeFile(join(root, "bin/suid"), "#!/bin/sh\n");
    await chmod(join(root, "bin/suid"), 0o4755);
    await writeFile(join(root, "home/owned"), "x");
    await chown(join(root, "home/owned"), 1000, 1001);
    await unlink(join(root, "bin/vi"));
    await runTool(["umoci", "repack", "--image", `${dir}:v2`, bundle]);

    const img = await inspectOciLayout(dir, "v2");
    try {
      expect(img.layers).toBe(2);
      expect(img.files.get("/etc/group.hard")).toMatchObject({ type: "hardlink", linkTarget: "/etc/group" });
      expect(img.files.get("/etc/group.hard")?.content).toBe(img.files.get("/etc/group")?.content);
      expect(img.files.get("/dev/null")).toMatchObject({ type: "char", devMajor: 1, devMinor: 3, mode: 0o666 });
      expect(img.files.get("/bin/suid")).toMatchObject({ type: "file", mode: 0o4755, content: "#!/bin/sh\n" });
      expect(img.files.get("/home/owned")).toMatchObject({ uid: 1000, gid: 1001, content: "x" });
      expect(img.files.has("/bin/vi")).toBe(false);
      expect(img.files.has("/bin/ls")).toBe(true);
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);
});

describe("inspectRegistryImage and inspectDockerArchive", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("a registry copy has the layout's digests and tree", async () => {
    const ref = await pushBusybox(reg, "copy/busybox", "1");
    const img = await inspectRegistryImage(ref, { creds: `${reg.username}:${reg.password}` });
    try {
      expect(img.manifestDigest).toBe(fromLayout.manifestDigest);
      expect(img.configDigest).toBe(fromLayout.configDigest);
      expect(img.index).toBeUndefined();
      expect(listing(img)).toEqual(listing(fromLayout));
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);

  test("a multi-platform reference resolves to this host's manifest", async () => {
    const dir = join(tmp, "indexed");
    await cp(layout, dir, { recursive: true });
    const top = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    const inner = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
      { ...top.manifests[0], annotations: undefined, platform: { architecture: "s390x", os: "linux" }, digest: fromLayout.manifestDigest },
      { ...top.manifests[0], annotations: undefined },
    ] });
    const innerDigest = new Bun.CryptoHasher("sha256").update(inner).digest("hex");
    await writeFile(join(dir, "blobs/sha256", innerDigest), inner);
    top.manifests = [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: `sha256:${innerDigest}`, size: inner.length,
      annotations: { "org.opencontainers.image.ref.name": "multi" } }];
    await writeFile(join(dir, "index.json"), JSON.stringify(top));

    const local = await inspectOciLayout(dir, "multi");
    try {
      expect(local.manifestDigest).toBe(fromLayout.manifestDigest);
      expect(local.index?.manifests).toHaveLength(2);
    } finally {
      await cleanupInspected(local);
    }
    const ref = `${reg.host}/multi/busybox:1`;
    await runTool(["skopeo", "copy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false",
      "--dest-creds", `${reg.username}:${reg.password}`, `oci:${dir}:multi`, `docker://${ref}`]);
    const remote = await inspectRegistryImage(ref, { creds: `${reg.username}:${reg.password}` });
    try {
      expect(remote.manifestDigest).toBe(fromLayout.manifestDigest);
      expect(remote.index?.manifests).toHaveLength(2);
      expect(remote.files.get("/bin/sh")?.linkTarget).toBe("/bin/busybox");
    } finally {
      await cleanupInspected(remote);
    }
  }, 30_000);

  test("wrong credentials fail with skopeo's own words", async () => {
    const ref = await pushBusybox(reg, "copy/busybox", "2");
    const err = await inspectRegistryImage(ref, { creds: "kiln:wrong" }).catch((e) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err.message).toContain("skopeo inspect");
    expect(err.stderr).toMatch(/unauthorized|authentication required/i);
  }, 30_000);

  test("a docker-archive reads back with the same config and tree", async () => {
    const tar = join(tmp, "busybox.tar");
    await runTool(["skopeo", "copy", "-q", `oci:${layout}:latest`, `docker-archive:${tar}:busybox:latest`]);
    const img = await inspectDockerArchive(tar);
    try {
      expect(img.configDigest).toBe(fromLayout.configDigest);
      expect(img.config).toEqual(fromLayout.config);
      expect(img.archiveManifest.RepoTags).toEqual(["docker.io/library/busybox:latest"]);
      expect(listing(img)).toEqual(listing(fromLayout));
    } finally {
      await cleanupInspected(img);
    }
  }, 30_000);
});
