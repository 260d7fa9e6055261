import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import {
  existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, unlinkSync, chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { fileLayer, sha256, type Layer } from "../image/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { LayerApplyError, mountIgnorePaths, RootFS, resolveUser, UserLookupError } from "./mod.ts";

const top = mkdtempSync(join(tmpdir(), "kiln-rootfs-"));
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
const mtime = new Date(1_600_000_000_000);

type E = { name: string; type?: tar.Header["type"]; mode?: number; uid?: number; gid?: number; linkname?: string; body?: string; devmajor?: number; devminor?: number };

// Builds a gzip layer with tar-stream directly, independent of lib/layer's writer.
async function makeLayer(entries: E[]): Promise<Layer> {
  const pack = tar.pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Uint8Array); })();
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = { name: e.name, type, mode: e.mode ?? (type === "directory" ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime, linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor };
    await new Promise<void>((res, rej) => {
      if (type === "file") pack.entry(header, e.body ?? "", (err) => (err ? rej(err) : res()));
      else pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  await done;
  const tarBytes = Buffer.concat(chunks);
  const gz = gzipSync(tarBytes);
  const path = join(tmp, `in-${Math.random().toString(36).slice(2)}.tgz`);
  writeFileSync(path, gz);
  return fileLayer({ path, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: gz.byteLength, diffID: sha256(tarBytes) });
}

const newRoot = (ignorePaths?: string[]) => new RootFS(root, { logger: silentLogger, tmpDir: tmp, ...(ignorePaths ? { ignorePaths } : {}) });
const at = (p: string) => join(root, p);
const listing = (l: Layer) => sh(`tar --numeric-owner -tvzf ${l.path}`);
const names = (l: Layer) => sh(`tar -tzf ${l.path}`).trim().split("\n");

describe("apply", () => {
  test("files, dirs, symlinks, hardlinks, modes incl. setuid and 1777, owners, mtimes", async () => {
    const fs = newRoot();
    await fs.apply(await makeLayer([
      { name: "bin/", type: "directory" },
      { name: "bin/sh", mode: 0o4755, uid: 0, body: "#!shell" },
      { name: "home/u/", type: "directory", mode: 0o750, uid: 1000, gid: 1001 },
      { name: "home/u/f", uid: 1000, gid: 1001, mode: 0o2640, body: "data" },
      { name: "tmp/", type: "directory", mode: 0o1777 },
      { name: "usr/bin/x", body: "x" }, // parent dirs not in the tar
      { name: "lib", type: "symlink", linkname: "usr/lib" },
      { name: "dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 },
      { name: "run/fifo", type: "fifo", mode: 0o600 },
    ]));
    await fs.apply(await makeLayer([{ name: "bin/sh2", type: "link", linkname: "bin/sh" }]));
    expect(lstatSync(at("bin/sh")).mode & 0o7777).toBe(0o4755);
    expect(readFileSync(at("bin/sh"), "utf8")).toBe("#!shell");
    const u = lstatSync(at("home/u"));
    expect([u.mode & 0o7777, u.uid, u.gid]).toEqual([0o750, 1000, 1001]);
    expect(lstatSync(at("home/u/f")).mode & 0o7777).toBe(0o2640);
    expect(lstatSync(at("tmp")).mode & 0o7777).toBe(0o1777);
    expect(lstatSync(at("tmp")).mtimeMs).toBe(mtime.getTime());
    expect(lstatSync(at("bin/sh")).mtimeMs).toBe(mtime.getTime());
    expect(lstatSync(at("usr/bin")).isDirectory()).toBe(true);
    expect(readlinkSync(at("lib"))).toBe("usr/lib");
    expect(lstatSync(at("bin/sh2")).ino).toBe(lstatSync(at("bin/sh")).ino);
    expect(lstatSync(at("dev/null")).isCharacterDevice()).toBe(true);
    expect(lstatSync(at("dev/null")).rdev).toBe(lstatSync("/dev/null").rdev);
    expect(lstatSync(at("run/fifo")).isFIFO()).toBe(true);
  });

  test("device nodes and FIFOs are made through mknod(2), with no mknod binary on PATH (the scratch executor image)", async () => {
    const layer = await makeLayer([
      { name: "dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 },
      { name: "dev/wide", type: "character-device", mode: 0o620, uid: 5, gid: 6, devmajor: 4, devminor: 70000 },
      { name: "dev/loop0", type: "block-device", mode: 0o660, gid: 6, devmajor: 7, devminor: 0 },
      { name: "dev/nvme", type: "block-device", mode: 0o600, devmajor: 259, devminor: 300 },
      { name: "run/fifo", type: "fifo", mode: 0o640 },
      // Under an ignored path (a mount in the executor's container): skipped without a word.
      { name: "proc/kcore", type: "character-device", mode: 0o400, devmajor: 1, devminor: 1 },
    ]);
    // The scratch image has no mknod binary (and Bun falls back to /bin when PATH is empty): here PATH holds
    // only a `mknod` that records being run and fails, as a missing one would.
    const bin = join(tmp, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "mknod"), `#!/bin/sh\necho "$@" >> ${join(tmp, "spawned")}\nexit 127\n`, { mode: 0o755 });
    const script = `
      import { RootFS } from ${JSON.stringify(join(import.meta.dir, "mod.ts"))};
      import { fileLayer } from ${JSON.stringify(join(import.meta.dir, "../image/mod.ts"))};
      import { createLogger } from ${JSON.stringify(join(import.meta.dir, "../log/mod.ts"))};
      const logger = createLogger({ level: "warn", format: "text", write: (l) => console.log(l) });
      await new RootFS(${JSON.stringify(root)}, { logger, tmpDir: ${JSON.stringify(tmp)}, ignorePaths: ["/proc"] })
        .apply(fileLayer(${JSON.stringify({ path: layer.path, mediaType: layer.mediaType, digest: layer.digest, size: layer.size, diffID: layer.diffID })}));`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { env: { PATH: bin }, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const warnings = r.stdout.toString().split("\n").filter(Boolean);
    expect(warnings).toEqual([]);
    const node = (p: string) => {
      const st = lstatSync(at(p));
      return { kind: st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : st.isFIFO() ? "p" : "?", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, rdev: st.rdev };
    };
    // rdev as the kernel encodes it (glibc's makedev), checked against the system's own mknod.
    const hostRdev = (kind: string, ma: number, mi: number) => {
      const p = join(tmp, `ref-${ma}-${mi}`);
      sh(`mknod ${p} ${kind} ${ma} ${mi}`);
      return lstatSync(p).rdev;
    };
    expect(node("dev/null")).toEqual({ kind: "c", mode: 0o666, uid: 0, gid: 0, rdev: lstatSync("/dev/null").rdev });
    expect(node("dev/wide")).toEqual({ kind: "c", mode: 0o620, uid: 5, gid: 6, rdev: hostRdev("c", 4, 70000) });
    expect(node("dev/loop0")).toEqual({ kind: "b", mode: 0o660, uid: 0, gid: 6, rdev: hostRdev("b", 7, 0) });
    expect(node("dev/nvme")).toEqual({ kind: "b", mode: 0o600, uid: 0, gid: 0, rdev: hostRdev("b", 259, 300) });
    expect(node("run/fifo")).toMatchObject({ kind: "p", mode: 0o640 });
    expect(existsSync(at("proc/kcore"))).toBe(false);
  });

  test("whiteouts delete lower files and dirs; opaque dirs empty lower content only", async () => {
    const fs = newRoot();
    await fs.apply(await makeLayer([
      { name: "a/", type: "directory" }, { name: "a/keep" }, { name: "a/gone" },
      { name: "d/", type: "directory" }, { name: "d/sub/deep" },
      { name: "o/", type: "directory" }, { name: "o/old1" }, { name: "o/olddir/x" },
    ]));
    await fs.apply(await makeLayer([
      { name: "a/.wh.gone" },
      { name: ".wh.d" },
      { name: "o/", type: "directory" },
      { name: "o/.wh..wh..opq" },
      { name: "o/new" },
    ]));
    expect(existsSync(at("a/keep"))).toBe(true);
    expect(existsSync(at("a/gone"))).toBe(false);
    expect(existsSync(at("a/.wh.gone"))).toBe(false);
    expect(existsSync(at("d"))).toBe(false);
    expect(sh(`ls -A ${at("o")}`).trim()).toBe("new");
  });

  test("an opaque marker after entries beneath it keeps them and hides only lower content", async () => {
    const fs = newRoot();
    await fs.apply(await makeLayer([{ name: "o/keepdir/old" }, { name: "o/old" }]));
    await fs.apply(await makeLayer([{ name: "o/keepdir/new" }, { name: "o/.wh..wh..opq" }]));
    expect(sh(`cd ${at("o")} && find . | sort`).trim().split("\n")).toEqual([".", "./keepdir", "./keepdir/new"]);
  });

  test("a file replaces a dir and a dir replaces a file", async () => {
    const fs = newRoot();
    await fs.apply(await makeLayer([{ name: "x/", type: "directory" }, { name: "x/inner" }, { name: "y", body: "file" }]));
    await fs.apply(await makeLayer([{ name: "x", body: "now a file" }, { name: "y/", type: "directory" }, { name: "y/z" }]));
    expect(readFileSync(at("x"), "utf8")).toBe("now a file");
    expect(lstatSync(at("y")).isDirectory()).toBe(true);
    expect(existsSync(at("y/z"))).toBe(true);
  });

  test("a hostile tar cannot write outside the root", async () => {
    const outside = join(top, `outside${n}`);
    mkdirSync(outside);
    const rel = `../../${join(top, `outside${n}`).split("/").pop()}`;
    const fs = newRoot();
    await expect(fs.apply(await makeLayer([{ name: "../../etc/x", body: "evil" }]))).rejects.toBeInstanceOf(LayerApplyError);
    await expect(fs.apply(await makeLayer([{ name: `${rel}/x`, body: "evil" }]))).rejects.toBeInstanceOf(LayerApplyError);
    // absolute names and symlinks to "/" (or to a host path) are resolved inside the root
    await fs.apply(await makeLayer([
      { name: "/abs", body: "abs" },
      { name: "a", type: "symlink", linkname: "/" },
      { name: "a/etc/x", body: "in root" },
      { name: "out", type: "symlink", linkname: outside },
      { name: "out/y", body: "in root too" },
      { name: "up", type: "symlink", linkname: "../../../../.." },
      { name: "up/z", body: "z" },
      { name: "nested/link", type: "symlink", linkname: "/" },
      { name: "nested/link/q", body: "q" },
    ]));
    expect(readFileSync(at("q"), "utf8")).toBe("q");
    expect(readFileSync(at("abs"), "utf8")).toBe("abs");
    expect(readFileSync(at("etc/x"), "utf8")).toBe("in root");
    expect(readFileSync(join(root, outside, "y"), "utf8")).toBe("in root too");
    expect(readFileSync(at("z"), "utf8")).toBe("z");
    expect(sh(`ls -A ${outside}`)).toBe("");
    expect(existsSync(join(top, "x"))).toBe(false);
    expect(existsSync("/abs")).toBe(false);
    // a hardlink to a host file is resolved in the root too (and fails when missing there)
    await expect(fs.apply(await makeLayer([{ name: "h", type: "link", linkname: "/etc/hostname" }]))).rejects.toBeInstanceOf(LayerApplyError);
    // a final-component symlink is replaced, not followed
    await fs.apply(await makeLayer([{ name: "out", body: "replaced" }]));
    expect(lstatSync(at("out")).isFile()).toBe(true);
    expect(sh(`ls -A ${outside}`)).toBe("");
  });

  test("a directory already written into, then replaced by a symlink in the same layer, is followed inside the root", async () => {
    // apply remembers resolved parents within a layer; replacing one must make it resolve again.
    const outside = join(top, `outside-cache${n}`);
    mkdirSync(outside);
    const fs = newRoot();
    await fs.apply(await makeLayer([
      { name: "d", type: "directory" },
      { name: "d/one", body: "1" },
      { name: "d", type: "symlink", linkname: outside },
      { name: "d/two", body: "2" },
      { name: "e", type: "directory" },
      { name: "e/one", body: "1" },
      { name: ".wh.e" },
      { name: "e", type: "symlink", linkname: "/" },
      { name: "e/three", body: "3" },
    ]));
    expect(sh(`ls -A ${outside}`)).toBe("");
    expect(readFileSync(join(root, outside, "two"), "utf8")).toBe("2");
    expect(existsSync(join(root, outside, "one"))).toBe(false);
    expect(readFileSync(at("three"), "utf8")).toBe("3");
  });

  test("ignored paths are not extracted", async () => {
    const fs = newRoot(["/proc"]);
    await fs.apply(await makeLayer([{ name: "proc/x" }, { name: "etc/y" }]));
    expect(existsSync(at("proc/x"))).toBe(false);
    expect(existsSync(at("etc/y"))).toBe(true);
  });
});

describe("snapshot", () => {
  const opts = { compression: "gzip" as const, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" };

  async function based() {
    const fs = newRoot(["/proc"]);
    await fs.apply(await makeLayer([
      { name: "etc/", type: "directory" }, { name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n" },
      { name: "etc/keep", body: "k" },
      { name: "var/", type: "directory" }, { name: "var/lib/", type: "directory" }, { name: "var/lib/db/a" }, { name: "var/lib/db/b" },
      { name: "usr/bin/tool", body: "t" },
    ]));
    await fs.baseline();
    return fs;
  }

  test("a layer applied after the baseline does not show up as a change", async () => {
    const fs = await based();
    await fs.apply(await makeLayer([{ name: "etc/from-cache" }, { name: "etc/.wh.keep" }, { name: "etc/hl", type: "link", linkname: "etc/passwd" }]));
    expect(existsSync(at("etc/keep"))).toBe(false);
    expect(await fs.snapshot(opts)).toBeUndefined();
    writeFileSync(at("etc/from-cache"), "edited");
    expect(names((await fs.snapshot(opts))!)).toEqual(["etc/", "etc/from-cache"]);
  });

  test("nothing changed -> undefined", async () => {
    const fs = await based();
    expect(await fs.snapshot(opts)).toBeUndefined();
    mkdirSync(at("proc/self"), { recursive: true }); // ignored
    expect(await fs.snapshot(opts)).toBeUndefined();
  });

  test("added, modified and deleted files; a deleted dir has one whiteout", async () => {
    const fs = await based();
    writeFileSync(at("etc/new"), "new");
    writeFileSync(at("etc/passwd"), "root:x:0:0::/root:/bin/sh\nu:x:1:1::/:/bin/sh\n");
    unlinkSync(at("usr/bin/tool"));
    rmSync(at("var/lib/db"), { recursive: true });
    chmodSync(at("etc/keep"), 0o4711);
    const layer = (await fs.snapshot(opts))!;
    expect(layer).toBeDefined();
    expect(names(layer)).toEqual(["etc/", "etc/keep", "etc/new", "etc/passwd", "usr/", "usr/bin/", "usr/bin/.wh.tool", "var/", "var/lib/", "var/lib/.wh.db"]);
    expect(listing(layer)).toMatch(/-rws--x--x 0\/0\s+1 .* etc\/keep/);
    expect(layer.digest).toBe("sha256:" + sh(`sha256sum ${layer.path}`).split(" ")[0]);
    expect(layer.diffID).toBe("sha256:" + sh(`gzip -dc ${layer.path} | sha256sum`).split(" ")[0]);
    expect(layer.size).toBe(readFileSync(layer.path!).byteLength);
    // the baseline moved on
    expect(await fs.snapshot(opts)).toBeUndefined();
  });

  test("a new hardlink to a lower file: the layer holds the pair (first name the file, the other a link), as BuildKit's", async () => {
    const fs = await based();
    linkSync(at("usr/bin/tool"), at("tool"));
    const layer = (await fs.snapshot(opts))!;
    expect(names(layer)).toEqual(["tool", "usr/", "usr/bin/", "usr/bin/tool"]);
    expect(listing(layer)).toMatch(/^-.* tool\n/m);
    expect(listing(layer)).toContain("usr/bin/tool link to tool");
    // Dropping a name again changes nothing in the file that stays.
    unlinkSync(at("tool"));
    expect(names((await fs.snapshot(opts))!)).toEqual([".wh.tool"]);
  });

  test("round trip: a snapshot applied to a fresh root reproduces the change", async () => {
    const fs = await based();
    mkdirSync(at("app/data"), { recursive: true });
    writeFileSync(at("app/data/f"), "payload");
    linkSync(at("app/data/f"), at("app/hard"));
    symlinkSync("data/f", at("app/sym"));
    rmSync(at("etc/keep"));
    const layer = (await fs.snapshot({ ...opts, compression: "zstd" }))!;
    expect(sh(`zstd -dcq ${layer.path} | tar -tvf - | grep 'app/hard'`)).toContain("link to app/data/f");
    const first = root;
    const replay = new RootFS(mkdtempSync(join(top, "replay-")), { logger: silentLogger, tmpDir: tmp });
    writeFileSync(join(replay.dir, "unrelated"), "");
    mkdirSync(join(replay.dir, "etc"));
    writeFileSync(join(replay.dir, "etc/keep"), "");
    await replay.apply(layer);
    expect(readFileSync(join(replay.dir, "app/hard"), "utf8")).toBe("payload");
    expect(lstatSync(join(replay.dir, "app/hard")).ino).toBe(lstatSync(join(replay.dir, "app/data/f")).ino);
    expect(readlinkSync(join(replay.dir, "app/sym"))).toBe("data/f");
    expect(existsSync(join(replay.dir, "etc/keep"))).toBe(false);
    expect(existsSync(join(first, "app/data/f"))).toBe(true);
  });

  test("paths limit the scan; sourceDateEpoch clamps mtimes; same tree gives the same digest", async () => {
    const fs = await based();
    writeFileSync(at("etc/outside-scope"), "x");
    mkdirSync(at("srv/app"), { recursive: true });
    writeFileSync(at("srv/app/main"), "m");
    const layer = (await fs.snapshot({ ...opts, paths: ["/srv/app"], sourceDateEpoch: 1000 }))!;
    expect(names(layer)).toEqual(["srv/", "srv/app/", "srv/app/main"]);
    expect(sh(`tar --full-time -tvzf ${layer.path}`)).toContain("1970-01-01 00:16:40 srv/app/main");
    // the file outside the scope is still pending for a full scan
    const rest = (await fs.snapshot(opts))!;
    expect(names(rest)).toEqual(["etc/", "etc/outside-scope"]);
    expect(await fs.snapshot(opts)).toBeUndefined();
  });

  test("two roots with the same content and mtimes give the same digest", async () => {
    const digests: string[] = [];
    for (const r of ["A", "B"]) {
      const dir = mkdtempSync(join(top, `det${r}-`));
      const fs = new RootFS(dir, { logger: silentLogger, tmpDir: tmp });
      await fs.baseline();
      mkdirSync(join(dir, "app"));
      for (const f of ["z", "a", "m"]) writeFileSync(join(dir, "app", f), f.repeat(1000));
      sh(`touch -h -d @1700000000 ${dir}/app/* ${dir}/app`);
      digests.push((await fs.snapshot({ ...opts, level: 6 }))!.digest);
    }
    expect(digests[0]).toBe(digests[1]);
  });

  test("paths through an absolute symlink are scanned inside the root, never on the host", async () => {
    const fs = await based();
    const hostDir = mkdtempSync(join(top, "hostside-"));
    writeFileSync(join(hostDir, "secret"), "host data");
    mkdirSync(at(hostDir), { recursive: true });
    symlinkSync(hostDir, at("ln"));
    writeFileSync(at(join(hostDir, "copied")), "in root");
    const layer = (await fs.snapshot({ ...opts, paths: ["/ln/copied", "/ln"] }))!;
    const got = names(layer);
    expect(got).toContain("ln");
    expect(got).toContain(join(hostDir, "copied").slice(1));
    expect(got.some((x) => x.endsWith("secret"))).toBe(false);
  });

  test("a dir replaced by a file needs no whiteouts beneath it", async () => {
    const fs = await based();
    rmSync(at("var/lib"), { recursive: true });
    writeFileSync(at("var/lib"), "file now");
    const layer = (await fs.snapshot(opts))!;
    expect(names(layer)).toEqual(["var/", "var/lib"]);
  });
});

describe("resolveUser", () => {
  beforeEach(() => {
    mkdirSync(at("etc"));
    writeFileSync(at("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\nnohome:x:1001:1001:::/bin/sh\n");
    writeFileSync(at("etc/group"), "root:x:0:\nwww-data:x:34:\nstaff:x:50:www,other\nadm:x:4:www\n");
  });
  test("names, ids, groups and homes", async () => {
    expect(await resolveUser(root, "www")).toEqual({ uid: 33, gid: 34, groups: [50, 4], home: "/var/www" });
    expect(await resolveUser(root, "33")).toEqual({ uid: 33, gid: 34, groups: [50, 4], home: "/var/www" });
    expect(await resolveUser(root, "www:staff")).toEqual({ uid: 33, gid: 50, groups: [], home: "/var/www" });
    expect(await resolveUser(root, "www:7")).toEqual({ uid: 33, gid: 7, groups: [], home: "/var/www" });
    expect(await resolveUser(root, "4242")).toEqual({ uid: 4242, gid: 0, groups: [], home: "/" });
    expect(await resolveUser(root, "4242:4242")).toEqual({ uid: 4242, gid: 4242, groups: [], home: "/" });
    expect(await resolveUser(root, "root")).toEqual({ uid: 0, gid: 0, groups: [], home: "/root" });
    expect(await resolveUser(root, "nohome")).toEqual({ uid: 1001, gid: 1001, groups: [], home: "/" });
    await expect(resolveUser(root, "ghost")).rejects.toBeInstanceOf(UserLookupError);
    await expect(resolveUser(root, "www:ghosts")).rejects.toBeInstanceOf(UserLookupError);
  });
  test("root without passwd: uid 0 gets /root; an /etc/passwd symlink to the host's is read in the root", async () => {
    rmSync(at("etc/passwd"));
    expect(await resolveUser(root, "0")).toEqual({ uid: 0, gid: 0, groups: [], home: "/root" });
    symlinkSync("/etc/shadowed", at("etc/passwd"));
    writeFileSync(at("etc/shadowed"), "app:x:7:7::/app:/bin/sh\n");
    expect(await resolveUser(root, "app")).toEqual({ uid: 7, gid: 7, groups: [], home: "/app" });
  });
});

describe("wipe and ignore list", () => {
  test("wipe empties the root but keeps ignored paths; the next snapshot sees everything as new", async () => {
    const fs = newRoot(["/kiln/cache", "/proc"]);
    await fs.apply(await makeLayer([{ name: "etc/a" }, { name: "kiln/cache/blob" }, { name: "kiln/other" }, { name: "x" }]));
    mkdirSync(at("kiln/cache"), { recursive: true });
    writeFileSync(at("kiln/cache/keep"), "k");
    mkdirSync(at("proc"));
    await fs.baseline();
    await fs.wipe();
    expect(sh(`cd ${root} && find . | sort`).trim().split("\n")).toEqual([".", "./kiln", "./kiln/cache", "./kiln/cache/keep", "./proc"]);
    writeFileSync(at("new"), "n");
    const layer = (await fs.snapshot({ compression: "gzip", mediaType: "m" }))!;
    expect(names(layer)).toEqual(["kiln/", "new"]);
  });

  test("moveOut moves what a wipe would delete into a kept directory, as the same tree, and leaves the root as a wipe does", async () => {
    const fs = newRoot(["/kiln/cache", "/proc", "/etc/hosts"]);
    await fs.apply(await makeLayer([
      { name: "etc", type: "directory", mode: 0o750, uid: 5, gid: 6 }, { name: "etc/a", body: "a" }, { name: "etc/hosts", body: "layer's" },
      { name: "bin", type: "directory" }, { name: "bin/tool", mode: 0o4755, body: "t" }, { name: "bin/alias", type: "link", linkname: "bin/tool" },
      { name: "bin/sh", type: "symlink", linkname: "tool" }, { name: "x", body: "x" },
    ]));
    mkdirSync(at("kiln/cache"), { recursive: true });
    writeFileSync(at("kiln/cache/keep"), "k");
    mkdirSync(at("proc"));
    writeFileSync(at("etc/hosts"), "mounted\n");
    const etc = lstatSync(at("etc"));
    const dest = at("kiln/cache/stage");
    fs.moveOut(dest);
    await fs.wipe();
    expect(sh(`cd ${root} && find . -path './kiln/cache/stage/*' -prune -o -print | sort`).trim().split("\n"))
      .toEqual([".", "./etc", "./etc/hosts", "./kiln", "./kiln/cache", "./kiln/cache/keep", "./kiln/cache/stage", "./proc"]);
    expect(sh(`cd ${dest} && find . | sort`).trim().split("\n")).toEqual([".", "./bin", "./bin/alias", "./bin/sh", "./bin/tool", "./etc", "./etc/a", "./kiln", "./x"]);
    // /etc stays (a mount lies beneath it): its copy has its mode, owner and mtime (layers keep whole seconds).
    const kept = lstatSync(join(dest, "etc"));
    expect([kept.mode, kept.uid, kept.gid, Math.floor(kept.mtimeMs / 1000)]).toEqual([etc.mode, 5, 6, Math.floor(etc.mtimeMs / 1000)]);
    expect(lstatSync(join(dest, "bin/tool")).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(dest, "bin/alias")).ino).toBe(lstatSync(join(dest, "bin/tool")).ino);
    expect(readlinkSync(join(dest, "bin/sh"))).toBe("tool");
  });

  test("mountIgnorePaths lists mounts beneath the root from mountinfo text", () => {
    const info = [
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
      "30 22 0:5 / /build/root/proc rw - proc proc rw",
      "31 22 0:6 / /build/root/my\\040dir rw - tmpfs tmpfs rw",
      "32 22 0:7 / /build/rootother rw - tmpfs tmpfs rw",
      "33 22 0:8 / /build/root rw - tmpfs tmpfs rw",
    ].join("\n");
    expect(mountIgnorePaths(info, "/build/root/")).toEqual(["/my dir", "/proc"]);
    expect(mountIgnorePaths(info, "/")).toEqual(["/build/root", "/build/root/my dir", "/build/root/proc", "/build/rootother"]);
  });
});
