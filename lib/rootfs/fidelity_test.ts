// Filesystem fidelity and snapshot modes: xattrs through apply and snapshot, kaniko's full/redo/time
// meanings, VOLUME paths, extraction retries, layers applied after the baseline, and a round trip
// compared with umoci's unpack of the same image.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer, appendLayer, scratchImage, toOciFormat, writeOciLayout, type Layer } from "../image/mod.ts";
import { writeLayer, type TarEntry } from "../layer/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { cleanupInspected, inspectOciLayout, walkRootfs } from "../../tests/support/image-assert.ts";
import { LayerDigestError, RootFS, type SnapshotMode } from "./mod.ts";

const top = mkdtempSync(join(tmpdir(), "kiln-fidelity-"));
afterAll(() => rmSync(top, { recursive: true, force: true }));
let n = 0;
let root: string;
let tmp: string;
beforeEach(() => {
  n++;
  root = join(top, `root${n}`);
  tmp = join(top, `tmp${n}`);
  mkdirSync(root);
  mkdirSync(tmp);
});

const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8" });
const t0 = new Date(1_600_000_000_000);
const CAP = "0100000280040000000000000000000000000000"; // cap_setuid,cap_net_bind_service=ep
const MT = "application/vnd.oci.image.layer.v1.tar+gzip";
const snap = { compression: "gzip" as const, mediaType: MT };
const at = (p: string) => join(root, p);
const newRoot = (snapshotMode?: SnapshotMode) => new RootFS(root, { logger: silentLogger, tmpDir: tmp, ...(snapshotMode ? { snapshotMode } : {}) });
const listing = (l: Layer) => sh(`tar --numeric-owner -tvzf ${l.path}`);

async function layerOf(entries: TarEntry[]): Promise<Layer> {
  const b = await writeLayer(entries, { dir: tmp, compression: "gzip" });
  return fileLayer({ path: b.path, mediaType: MT, digest: b.digest, size: b.size, diffID: b.diffID });
}

const file = (name: string, body: string, extra: Partial<TarEntry["header"]> = {}): TarEntry => ({
  header: { name, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0, ...extra }, body: new TextEncoder().encode(body),
});
const dirE = (name: string, extra: Partial<TarEntry["header"]> = {}): TarEntry => ({ header: { name, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: t0, ...extra } });

describe("xattrs", () => {
  test("applied from layers (security.capability survives chown) and written into snapshots", async () => {
    const fs = newRoot();
    await fs.apply(await layerOf([
      dirE("bin"),
      file("bin/ping", "elf", { uid: 1000, xattrs: { "security.capability": Buffer.from(CAP, "hex"), "user.note": new Uint8Array([0xff, 0]) } }),
    ]));
    expect(sh(`getcap ${at("bin/ping")}`)).toContain("cap_setuid,cap_net_bind_service=ep");
    expect(sh(`getfattr --absolute-names -n user.note -e hex ${at("bin/ping")}`)).toContain("user.note=0xff00");
    await fs.baseline();
    writeFileSync(at("bin/new"), "new");
    sh(`setcap cap_net_raw+ep ${at("bin/new")} && setfattr -n user.k -v v ${at("bin/new")}`);
    const layer = (await fs.snapshot(snap))!;
    const out = join(tmp, "x");
    mkdirSync(out);
    sh(`tar --xattrs --xattrs-include='*' -xzf ${layer.path} -C ${out}`);
    expect(sh(`getcap ${out}/bin/new`)).toContain("cap_net_raw=ep");
    expect(sh(`getfattr --absolute-names -n user.k --only-values ${out}/bin/new`)).toBe("v");
  });

  test("a setcap alone (only ctime and the xattr change) is a change in full mode", async () => {
    const fs = newRoot();
    await fs.apply(await layerOf([file("f", "same")]));
    await fs.baseline();
    sh(`setcap cap_net_raw+ep ${at("f")}`);
    const layer = await fs.snapshot(snap);
    expect(layer).toBeDefined();
    expect(listing(layer!)).toContain(" f\n");
  });
});

describe("snapshot modes", () => {
  // A file rewritten with the same bytes and its old mtime: only ctime (and maybe the inode) moved.
  // (touch -r keeps nanoseconds; utimes from JS numbers would not.)
  function rewriteSame(p: string) {
    sh(`touch -r ${at(p)} ${tmp}/ref && cat ${at(p)} > ${tmp}/copy && cat ${tmp}/copy > ${at(p)} && touch -r ${tmp}/ref ${at(p)}`);
  }
  // Same size, same mtime, other bytes.
  function rewriteDifferent(p: string) {
    sh(`touch -r ${at(p)} ${tmp}/ref && tr a-z A-Z < ${at(p)} > ${tmp}/copy && cat ${tmp}/copy > ${at(p)} && touch -r ${tmp}/ref ${at(p)}`);
  }

  test("full: stat changed but content, mode, owner and mtime equal -> left out; content changed -> in", async () => {
    const fs = newRoot("full");
    await fs.apply(await layerOf([file("a", "alpha"), file("b", "bravo"), file("c", "charlie")]));
    await fs.baseline();
    rewriteSame("a");
    chmodSync(at("b"), 0o600);
    chmodSync(at("b"), 0o644); // ctime only
    expect(await fs.snapshot(snap)).toBeUndefined();
    rewriteDifferent("c");
    const layer = (await fs.snapshot(snap))!;
    expect(layer).toBeDefined();
    expect(sh(`tar -tzf ${layer.path}`).trim().split("\n")).toEqual(["c"]);
    // Files first written by a snapshot carry hashes too.
    writeFileSync(at("d"), "delta");
    expect(await fs.snapshot(snap)).toBeDefined();
    rewriteSame("d");
    expect(await fs.snapshot(snap)).toBeUndefined();
  });

  test("redo: a content change with equal size and mtime is missed; a mode change is seen", async () => {
    const fs = newRoot("redo");
    await fs.apply(await layerOf([file("a", "alpha"), file("b", "bravo")]));
    await fs.baseline();
    rewriteDifferent("a");
    expect(await fs.snapshot(snap)).toBeUndefined();
    chmodSync(at("b"), 0o600);
    expect(sh(`tar -tzf ${(await fs.snapshot(snap))!.path}`).trim()).toBe("b");
  });

  test("time: only mtimes count", async () => {
    const fs = newRoot("time");
    await fs.apply(await layerOf([file("a", "alpha"), file("b", "bravo")]));
    await fs.baseline();
    chmodSync(at("a"), 0o600);
    expect(await fs.snapshot(snap)).toBeUndefined();
    writeFileSync(at("b"), "changed");
    expect(sh(`tar -tzf ${(await fs.snapshot(snap))!.path}`).trim()).toBe("b");
  });

  test("a step that only reads files produces no layer", async () => {
    const fs = newRoot();
    await fs.apply(await layerOf([dirE("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")]));
    await fs.baseline();
    sh(`cat ${at("etc/passwd")} > /dev/null; ls -lR ${root} > /dev/null`);
    expect(await fs.snapshot(snap)).toBeUndefined();
  });
});

describe("ignore list", () => {
  test("beneath a VOLUME nothing is snapshotted, the volume dir itself is; lower files under it are not deleted", async () => {
    const fs = newRoot();
    await fs.apply(await layerOf([dirE("data"), file("data/old", "o")]));
    await fs.baseline();
    fs.ignoreBeneath("/data");
    rmSync(at("data/old"));
    writeFileSync(at("data/new"), "n");
    chmodSync(at("data"), 0o700);
    writeFileSync(at("outside"), "x");
    const names = sh(`tar -tzf ${(await fs.snapshot(snap))!.path}`).trim().split("\n");
    expect(names).toEqual(["data/", "outside"]);
  });
});

describe("layers read without the registry client's check", () => {
  // A registry layer offers openUnverified(); apply then checks digest and size on its inflate worker.
  const unverified = (claimed: Layer, actual: Layer): Layer => {
    const { path: _, ...rest } = claimed;
    return { ...rest, open: async () => { throw new Error("open() must not be used when openUnverified() exists"); }, openUnverified: () => actual.open() };
  };

  test("bytes that match the digest apply, gzip and uncompressed alike", async () => {
    const good = await layerOf([file("f", "x")]);
    await newRoot().apply(unverified(good, good));
    expect(readFileSync(at("f"), "utf8")).toBe("x");
    rmSync(at("f"));
    const tarPath = join(tmp, "plain.tar");
    execFileSync("bash", ["-c", `gzip -dc ${good.path} > ${tarPath}`]);
    const plain = fileLayer({ path: tarPath, mediaType: "application/vnd.oci.image.layer.v1.tar", digest: good.diffID, size: readFileSync(tarPath).byteLength, diffID: good.diffID });
    await newRoot().apply(unverified(plain, plain));
    expect(readFileSync(at("f"), "utf8")).toBe("x");
  });

  test("a valid layer with other bytes than its digest names fails with both digests", async () => {
    const claimed = await layerOf([file("f", "x")]);
    const other = await layerOf([file("f", "y")]);
    const err = await newRoot().apply(unverified(claimed, other)).catch((e) => e);
    expect(err).toBeInstanceOf(LayerDigestError);
    expect(err.message).toContain(claimed.digest);
    expect(err.message).toContain(other.digest);
    expect(err.message).toContain("altered");
  });
});

describe("layers applied after the baseline", () => {
  test("re-index only what they touch: their files, deletions and link sources are not reported later", async () => {
    const fs = newRoot();
    await fs.apply(await layerOf([dirE("d"), file("d/keep", "k"), file("d/gone", "g"), file("src", "s")]));
    await fs.baseline();
    await fs.apply(await layerOf([
      file("d/.wh.gone", ""), file("new", "n"),
      { header: { name: "src-link", type: "link", mode: 0o644, uid: 0, gid: 0, mtime: t0, linkname: "src" } },
    ]));
    expect(await fs.snapshot(snap)).toBeUndefined();
    writeFileSync(at("d/keep"), "changed");
    expect(sh(`tar -tzf ${(await fs.snapshot(snap))!.path}`).trim().split("\n")).toEqual(["d/", "d/keep"]);
  });
});

describe("round trip against umoci", () => {
  test("our apply of an image's layers gives the tree umoci unpacks from it", async () => {
    const l1 = await layerOf([
      dirE("etc"), file("etc/conf", "one"), dirE("var/lib", { mode: 0o750, uid: 5, gid: 6 }), file("var/lib/db", "db", { mode: 0o600, uid: 5 }),
      dirE("opt/old"), file("opt/old/x", "x"), file("bin/su", "su", { mode: 0o4755 }),
      { header: { name: "bin/su2", type: "link", mode: 0o4755, uid: 0, gid: 0, mtime: t0, linkname: "bin/su" } },
      { header: { name: "lib", type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: t0, linkname: "/usr/lib" } },
      { header: { name: "dangling", type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: t0, linkname: "nowhere" } },
      { header: { name: "dev/null", type: "character-device", mode: 0o666, uid: 0, gid: 0, mtime: t0, devmajor: 1, devminor: 3 } },
      { header: { name: "run/fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0, mtime: t0 } },
      dirE("tmp", { mode: 0o1777 }),
    ]);
    // Second layer: whiteout a file, opaque a dir and refill it, replace a dir by a file and a file by a dir.
    const l2 = await layerOf([
      file("etc/.wh.conf", ""), dirE("opt/old"), file("opt/old/.wh..wh..opq", ""), file("opt/old/y", "y"),
      file("var/lib", "now a file"), dirE("bin/su"), file("bin/su/inside", "i"),
    ]);
    let img = toOciFormat(scratchImage({ os: "linux", architecture: "amd64" }));
    img = appendLayer(appendLayer(img, l1, { created_by: "l1" }), l2, { created_by: "l2" });
    const layout = join(tmp, "layout");
    await writeOciLayout(img, layout, { refName: "t" });
    const umoci = await inspectOciLayout(layout, "t");
    try {
      const fs = newRoot();
      await fs.apply(l1);
      await fs.apply(l2);
      const ours = await walkRootfs(root);
      expect([...ours.keys()].sort()).toEqual([...umoci.files.keys()].sort());
      for (const [p, e] of umoci.files) {
        const o = ours.get(p)!;
        // umoci gives the root dir and parents it created its own metadata; compare what layers specify.
        expect({ p, type: o.type, mode: o.mode, uid: o.uid, gid: o.gid, sha: o.sha256, link: o.linkTarget, dev: [o.devMajor, o.devMinor] })
          .toEqual({ p, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, sha: e.sha256, link: e.linkTarget, dev: [e.devMajor, e.devMinor] });
      }
      // And a snapshot of everything, applied to a fresh root, reproduces the same tree.
      const all = (await fs.snapshot(snap))!;
      const again = join(top, `again${n}`);
      mkdirSync(again);
      await new RootFS(again, { logger: silentLogger, tmpDir: tmp }).apply(all);
      const copy = await walkRootfs(again);
      expect([...copy.keys()].sort()).toEqual([...ours.keys()].sort());
      for (const [p, e] of ours) expect({ p, ...copy.get(p)! }).toEqual({ p, ...e });
    } finally {
      await cleanupInspected(umoci);
    }
  });
});

