// RUN --mount in place, against a temp dir standing in for "/": what the command sees, what the root holds after,
// and that the next snapshot holds only the command's own changes.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunMount } from "../dockerfile/mod.ts";
import { IgnoreMatcher } from "../context/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { getXattrs, RootFS, setXattr } from "../rootfs/mod.ts";
import { setTimesNs } from "../sandbox/mod.ts";
import type { StepContext } from "./context.ts";
import { InstructionError } from "./metadata.ts";
import { MountResources, prepareMounts } from "./mounts.ts";
import { copyExact } from "./placements.ts";

const top = mkdtempSync(join(tmpdir(), "kiln-placements-"));
// tmpfs: another file system than the temp dir's, so renames there fail with EXDEV and the copy path runs.
const otherFs = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/kiln-placements-") : undefined;
afterAll(() => {
  rmSync(top, { recursive: true, force: true });
  if (otherFs) rmSync(otherFs, { recursive: true, force: true });
});
let n = 0;
const fresh = (base = top) => { const d = join(base, `d${n++}`); mkdirSync(d); return d; };

const mount = (m: Partial<RunMount> & Pick<RunMount, "type">): RunMount => ({ readonly: false, ...m });
const stat = (p: string) => {
  const s = lstatSync(p, { bigint: true });
  return { mode: s.mode, uid: s.uid, gid: s.gid, mtimeNs: s.mtimeNs, size: s.size };
};
const snapOpts = { compression: "gzip" as const, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" };
const names = (path: string) => execFileSync("tar", ["-tzf", path], { encoding: "utf8" }).trim().split("\n");

function setup(scratchBase = top) {
  const root = fresh();
  const context = fresh();
  writeFileSync(join(context, "a.txt"), "from the context\n");
  mkdirSync(join(context, "sub"));
  writeFileSync(join(context, "sub/b.txt"), "b\n");
  const work = fresh(scratchBase);
  const ctx = {
    rootDir: root, inPlace: true, logger: silentLogger, selfCommand: [], runtimeDir: join(work, "runc"), network: "private",
    tmpDir: join(work, "tmp"), buildArgs: {}, metaArgs: new Map(),
    buildContext: { dir: context, ignore: new IgnoreMatcher([]), cleanup: async () => {} },
    fromRoot: async () => { throw new Error("no stages here"); },
    runMounts: new MountResources({ cacheDir: join(work, "cache"), tmpDir: join(work, "scratch"), secrets: { tok: { value: "s3cret" } } }),
  } satisfies StepContext;
  return { root, ctx, at: (p: string) => join(root, p) };
}

/** The image's files: written, then taken into a first layer, so the index has their content hashes. */
async function imageFiles(root: string, tmp: string): Promise<RootFS> {
  const fs = new RootFS(root, { logger: silentLogger, tmpDir: tmp });
  await fs.baseline();
  mkdirSync(join(root, "root/.cache/sub"), { recursive: true });
  writeFileSync(join(root, "root/.cache/old"), "the image's cache\n");
  chmodSync(join(root, "root/.cache/old"), 0o640);
  chownSync(join(root, "root/.cache/old"), 1234, 99);
  symlinkSync("old", join(root, "root/.cache/link"));
  setXattr(join(root, "root/.cache/old"), "user.kiln", new TextEncoder().encode("x"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/keep"), "k\n");
  expect(await fs.snapshot(snapOpts)).toBeDefined();
  return fs;
}

describe.each([["one file system", false], ["scratch and cache on another file system (copies)", true]])("in place, %s", (_name, cross) => {
  const base = cross ? otherFs : top;
  test.skipIf(base === undefined)("cache, bind, tmpfs and secret are placed, taken away, and leave only the command's changes in the layer", async () => {
    const { root, ctx, at } = setup(base);
    const tmp = fresh();
    const fs = await imageFiles(root, tmp);
    const before = { old: stat(at("root/.cache/old")), cache: stat(at("root/.cache")), root: stat(at("root")), top: stat(root) };
    const list = [
      mount({ type: "cache", target: "/root/.cache" }),
      mount({ type: "bind", target: "/src", source: "sub" }),
      mount({ type: "tmpfs", target: "scratch" }), // relative: under WORKDIR
      mount({ type: "secret", id: "tok", target: "/run/secrets/tok", mode: "0440", gid: "7" }),
      mount({ type: "secret", id: "tok", env: "TOKEN" }),
    ];
    const first = await prepareMounts(list, "/work", ctx, "RUN (line 2)");
    // What the command sees.
    expect(first.mounts).toEqual([]);
    expect(first.env).toEqual(["TOKEN=s3cret"]);
    expect(readdirSync(at("root/.cache"))).toEqual([]);
    expect(readFileSync(at("src/b.txt"), "utf8")).toBe("b\n");
    expect(readdirSync(at("work/scratch"))).toEqual([]);
    expect(lstatSync(at("work/scratch")).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(at("run/secrets/tok"), "utf8")).toBe("s3cret");
    expect(stat(at("run/secrets/tok"))).toMatchObject({ mode: 0o100440n, uid: 0n, gid: 7n });
    // The command: writes into the cache and the mounts, and one file of its own.
    writeFileSync(at("root/.cache/pkg"), "downloaded\n");
    writeFileSync(at("src/b.txt"), "changed\n");
    writeFileSync(at("work/scratch/t"), "t\n");
    writeFileSync(at("root/own"), "the command's\n");
    first.release();

    // The image's files are back as they were; placements and mount points are gone.
    expect(readdirSync(at("root/.cache")).sort()).toEqual(["link", "old", "sub"]);
    expect(stat(at("root/.cache/old"))).toEqual(before.old);
    expect(stat(at("root/.cache"))).toEqual(before.cache);
    expect(getXattrs(at("root/.cache/old"))["user.kiln"]).toEqual(new TextEncoder().encode("x"));
    expect(stat(root).mtimeNs).toBe(before.top.mtimeNs);
    expect(stat(at("root")).mtimeNs).not.toBe(before.root.mtimeNs); // the command's own file changed it
    for (const p of ["src", "work", "run"]) expect(existsSync(at(p))).toBe(false);
    expect(readFileSync(join(ctx.buildContext.dir, "sub/b.txt"), "utf8")).toBe("b\n");

    const layer = (await fs.snapshot(snapOpts))!;
    expect(names(layer.path!)).toEqual(["root/", "root/own"]);

    // The next RUN finds what the first left in the cache, and the image's files are hidden again.
    const second = await prepareMounts([list[0]], "/", ctx, "RUN (line 3)");
    expect(readdirSync(at("root/.cache"))).toEqual(["pkg"]);
    second.release();
    expect(await fs.snapshot(snapOpts)).toBeUndefined();
  });
});

describe("in place, failures", () => {
  test("a directory mount over a file of the image is refused, and earlier placements are undone", async () => {
    const { root, ctx, at } = setup();
    mkdirSync(at("etc"));
    writeFileSync(at("etc/conf"), "c\n");
    const list = [mount({ type: "tmpfs", target: "/tmp/x" }), mount({ type: "cache", target: "/etc/conf" })];
    const err = await prepareMounts(list, "/", ctx, "RUN (line 4)").catch((e) => e);
    expect(err).toBeInstanceOf(InstructionError);
    expect(err.message).toContain("target=/etc/conf");
    expect(err.message).toContain("not a directory");
    expect(readdirSync(root).sort()).toEqual(["etc"]);
    expect(readFileSync(at("etc/conf"), "utf8")).toBe("c\n");
  });
});

test("copyExact keeps type, content, owner, mode, xattrs and nanosecond times", () => {
  const src = fresh();
  mkdirSync(join(src, "d"));
  writeFileSync(join(src, "d/f"), "f");
  chownSync(join(src, "d/f"), 5, 6);
  chmodSync(join(src, "d/f"), 0o4750);
  setXattr(join(src, "d/f"), "user.a", new TextEncoder().encode("1"));
  symlinkSync("f", join(src, "d/l"));
  setTimesNs(join(src, "d/f"), 1_000_000_123n, 2_000_000_456n);
  setTimesNs(join(src, "d"), 3_000_000_789n, 4_000_000_012n);
  const dest = join(fresh(otherFs ?? top), "copy");
  copyExact(join(src, "d"), dest);
  // A directory's size is the file system's business.
  expect({ ...stat(dest), size: 0n }).toEqual({ ...stat(join(src, "d")), size: 0n });
  for (const p of ["/f", "/l"]) expect(stat(dest + p)).toEqual(stat(join(src, "d") + p));
  expect(getXattrs(join(dest, "f"))["user.a"]).toEqual(new TextEncoder().encode("1"));
});
