import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLayer, writeLayer, type TarEntry, type ReadEntry, LayerCompressError, LayerFormatError } from "./mod.ts";

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "kiln-layer-")); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8" });
const sha = (cmd: string) => "sha256:" + sh(cmd).split(" ")[0];
const t0 = new Date(1_700_000_000_000);
const longName = "deep/" + "d".repeat(120) + "/file.txt";
const bigBytes = 3 * 1024 * 1024 + 7;

async function* bigBody(): AsyncGenerator<Uint8Array> {
  let left = bigBytes;
  let i = 0;
  while (left > 0) {
    const n = Math.min(left, 64 * 1024);
    yield new Uint8Array(n).fill(i++ % 251);
    left -= n;
  }
}

function entries(): TarEntry[] {
  const base = { uid: 0, gid: 0, mtime: t0 };
  return [
    { header: { ...base, name: "/etc", type: "directory", mode: 0o755 } },
    { header: { ...base, name: "./etc/hello", type: "file", mode: 0o644, uid: 1000, gid: 1000 }, body: new TextEncoder().encode("hello\n") },
    { header: { ...base, name: "etc/big", type: "file", mode: 0o4755, size: bigBytes }, body: bigBody() },
    { header: { ...base, name: "etc/hard", type: "link", mode: 0o644, linkname: "/etc/hello" } },
    { header: { ...base, name: "etc/sym", type: "symlink", mode: 0o777, linkname: "../usr/bin/x" } },
    { header: { ...base, name: longName, type: "file", mode: 0o600, uid: 3_000_000 }, body: new Uint8Array([1, 2, 3]) },
    { header: { ...base, name: "etc/ünïcode", type: "file", mode: 0o644 }, body: new Uint8Array(0) },
    { header: { ...base, name: "tmp", type: "directory", mode: 0o1777 } },
    { header: { ...base, name: "dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 } },
  ];
}

async function collect(r: AsyncIterable<ReadEntry>, readBodies = true) {
  const out: { name: string; type: string; mode: number; uid: number; size: number; linkname?: string; bytes: number }[] = [];
  for await (const e of r) {
    let bytes = 0;
    if (readBodies) for await (const c of e.body) bytes += c.byteLength;
    out.push({ name: e.header.name, type: e.header.type, mode: e.header.mode, uid: e.header.uid, size: e.header.size, linkname: e.header.linkname, bytes });
  }
  return out;
}

describe("writeLayer", () => {
  test("gzip layer: system tar lists it, sha256sum agrees with digest and diffID", async () => {
    const blob = await writeLayer(entries(), { dir, compression: "gzip" });
    expect(blob.path.startsWith(dir)).toBe(true);
    expect(blob.size).toBe(readFileSync(blob.path).byteLength);
    expect(blob.digest).toBe(sha(`sha256sum ${blob.path}`));
    expect(blob.diffID).toBe(sha(`gzip -dc ${blob.path} | sha256sum`));
    const listing = sh(`tar --numeric-owner -tvzf ${blob.path}`);
    expect(listing).toContain("drwxr-xr-x 0/0");
    expect(listing).toMatch(/-rw-r--r-- 1000\/1000\s+6 .* etc\/hello/);
    expect(listing).toMatch(/-rwsr-xr-x 0\/0\s+3145735 .* etc\/big/);
    expect(listing).toContain("etc/hard link to etc/hello");
    expect(listing).toContain("etc/sym -> ../usr/bin/x");
    expect(listing).toContain(longName);
    expect(listing).toMatch(/-rw------- 3000000\/0 .* deep\//);
    expect(listing).toContain("etc/ünïcode");
    expect(listing).toMatch(/drwxrwxrwt 0\/0 .* tmp\//);
    expect(listing).toMatch(/crw-rw-rw- 0\/0\s+1,\s*3 .* dev\/null/);
    // names are relative and nothing carries user or group names
    const names = sh(`tar -tzf ${blob.path}`).trim().split("\n");
    expect(names.every((n) => !n.startsWith("/") && !n.startsWith("./"))).toBe(true);
    expect(names).toContain("etc/");
    expect(sh(`tar -tvzf ${blob.path} | head -1`)).toContain("0/0"); // no uname/gname -> numeric
  });

  test("zstd layer: zstd -dc agrees with diffID", async () => {
    const blob = await writeLayer(entries(), { dir, compression: "zstd", level: 3 });
    expect(blob.digest).toBe(sha(`sha256sum ${blob.path}`));
    expect(blob.diffID).toBe(sha(`zstd -dcq ${blob.path} | sha256sum`));
    expect(sh(`zstd -dcq ${blob.path} | tar -tf - | wc -l`).trim()).toBe("9");
  });

  test("same entries give the same digests (deterministic)", async () => {
    const a = await writeLayer(entries(), { dir, compression: "gzip", level: 6 });
    const b = await writeLayer(entries(), { dir, compression: "gzip", level: 6 });
    expect(a.digest).toBe(b.digest);
    expect(a.diffID).toBe(b.diffID);
    const c = await writeLayer(entries(), { dir, compression: "none" });
    expect(c.diffID).toBe(a.diffID);
    expect(c.digest).toBe(c.diffID);
  });

  test("a body shorter than its size fails and leaves no file behind", async () => {
    const sub = mkdtempSync(join(dir, "bad-"));
    const bad: TarEntry[] = [{ header: { name: "x", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0, size: 10 }, body: (async function* () { yield new Uint8Array(3); })() }];
    await expect(writeLayer(bad, { dir: sub, compression: "gzip" })).rejects.toThrow();
    expect(readdirSync(sub)).toEqual([]);
  });
});

// Counts the gzip members of a file (each block of a large layer is one) with Python's zlib, which shares no code with ours.
const gzipMembers = (path: string) => Number(sh(`python3 -c '
import sys, zlib
data = open(sys.argv[1], "rb").read(); n = 0
while data:
    d = zlib.decompressobj(31); d.decompress(data); data = d.unused_data; n += 1
print(n)' ${path}`).trim());

describe("block compression", () => {
  // ~5.5 MiB of text that compresses but not trivially: more than five 1 MiB blocks.
  const text = new TextEncoder().encode(Array.from({ length: 600_000 }, (_, i) => `line ${i * 7919 % 100_003}`).join("\n"));
  const big = (): TarEntry[] => [
    { header: { name: "a.txt", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0 }, body: text },
    { header: { name: "b.txt", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0 }, body: text.subarray(0, 1_000_001) },
  ];

  test("a large gzip layer is several members forming one stream: gzip -t, gzip -dc | sha256sum is the diffID, our reader agrees", async () => {
    const blob = await writeLayer(big(), { dir, compression: "gzip" });
    expect(sh(`gzip -t ${blob.path} && echo ok`).trim()).toBe("ok");
    expect(blob.diffID).toBe(sha(`gzip -dc ${blob.path} | sha256sum`));
    expect(blob.digest).toBe(sha(`sha256sum ${blob.path}`));
    expect(gzipMembers(blob.path)).toBeGreaterThanOrEqual(6);
    expect(sh(`tar -xzOf ${blob.path} b.txt | cmp - <(head -c 1000001 <(tar -xzOf ${blob.path} a.txt)) && echo same`).trim()).toBe("same");
    const r = readLayer(Bun.file(blob.path).stream());
    expect((await collect(r)).map((e) => e.bytes)).toEqual([text.byteLength, 1_000_001]);
    expect(r.diffID).toBe(blob.diffID);
  });

  test("a large zstd layer is several frames: zstd -t, zstd -dc | sha256sum is the diffID, our reader agrees", async () => {
    const blob = await writeLayer(big(), { dir, compression: "zstd", level: 3 });
    expect(sh(`zstd -tq ${blob.path} && echo ok`).trim()).toBe("ok");
    expect(blob.diffID).toBe(sha(`zstd -dcq ${blob.path} | sha256sum`));
    expect(Number(sh(`zstd -l ${blob.path} | awk 'NR==2 {print $1}'`))).toBeGreaterThanOrEqual(6);
    const r = readLayer(Bun.file(blob.path).stream());
    await collect(r);
    expect(r.diffID).toBe(blob.diffID);
  });

  test("blocks are cut by byte offset, so the same tar gives the same digest however its chunks arrive; a small layer is one member", async () => {
    const a = await writeLayer(big(), { dir, compression: "gzip" });
    async function* dribble() { for (let o = 0; o < text.byteLength; o += 77_777) yield text.slice(o, o + 77_777); }
    const b = await writeLayer([{ header: { ...big()[0].header, size: text.byteLength }, body: dribble() }, big()[1]], { dir, compression: "gzip" });
    expect(b.digest).toBe(a.digest);
    const small = await writeLayer(entries().filter((e) => e.header.name !== "etc/big"), { dir, compression: "gzip" });
    expect(gzipMembers(small.path)).toBe(1);
  });

  test("a level the codec refuses is a LayerCompressError naming the flag, and leaves no file behind", async () => {
    const sub = mkdtempSync(join(dir, "level-"));
    await expect(writeLayer(big(), { dir: sub, compression: "zstd", level: 99 })).rejects.toThrow(LayerCompressError);
    await expect(writeLayer(big(), { dir: sub, compression: "gzip", level: 13 })).rejects.toThrow(/--compression-level/);
    expect(readdirSync(sub)).toEqual([]);
  });
});

describe("streaming", () => {
  test("a 192 MiB layer is written and read in flat memory", async () => {
    const size = 192 * 1024 * 1024;
    async function* body() {
      for (let left = size; left > 0; left -= 1 << 20) yield new Uint8Array(Math.min(left, 1 << 20)).fill(left & 0xff);
    }
    Bun.gc(true);
    const start = process.memoryUsage().rss;
    let peak = start;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    try {
      const blob = await writeLayer([{ header: { name: "big", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0, size }, body: body() }], { dir, compression: "gzip", level: 1 });
      const r = readLayer(Bun.file(blob.path).stream());
      let n = 0;
      for await (const e of r) for await (const c of e.body) n += c.byteLength;
      expect(n).toBe(size);
      expect(r.diffID).toBe(blob.diffID);
      rmSync(blob.path);
    } finally {
      clearInterval(timer);
    }
    expect((peak - start) / 2 ** 20).toBeLessThan(96);
  });
});

describe("readLayer", () => {
  test("reads back what writeLayer wrote, gzip and zstd, with the same diffID", async () => {
    for (const compression of ["gzip", "zstd", "none"] as const) {
      const blob = await writeLayer(entries(), { dir, compression });
      const r = readLayer(Bun.file(blob.path).stream());
      const got = await collect(r);
      expect(r.compression).toBe(compression);
      expect(r.diffID).toBe(blob.diffID);
      expect(got.map((e) => e.name)).toEqual(["etc/", "etc/hello", "etc/big", "etc/hard", "etc/sym", longName, "etc/ünïcode", "tmp/", "dev/null"]);
      const big = got.find((e) => e.name === "etc/big")!;
      expect(big.bytes).toBe(bigBytes);
      expect(big.mode).toBe(0o4755);
      expect(got.find((e) => e.name === longName)!.uid).toBe(3_000_000);
      expect(got.find((e) => e.name === "etc/hard")!.linkname).toBe("etc/hello");
      expect(got.find((e) => e.name === "tmp/")!.mode).toBe(0o1777);
    }
  });

  test("bodies left unread are skipped, and a tar made by system tar reads", async () => {
    const src = join(dir, "src");
    mkdirSync(join(src, "a"), { recursive: true });
    writeFileSync(join(src, "a", "f"), "x".repeat(100_000));
    writeFileSync(join(src, "g"), "y");
    sh(`tar -C ${src} -czf ${dir}/sys.tgz a g`);
    const r = readLayer(Bun.file(`${dir}/sys.tgz`).stream());
    const got = await collect(r, false);
    expect(got.map((e) => e.name).sort()).toEqual(["a/", "a/f", "g"]);
    expect(r.diffID).toBe(sha(`gzip -dc ${dir}/sys.tgz | sha256sum`));
  });

  test("a truncated blob is a LayerFormatError", async () => {
    const blob = await writeLayer(entries(), { dir, compression: "gzip" });
    const bytes = readFileSync(blob.path);
    const r = readLayer(new Blob([bytes.subarray(0, bytes.byteLength >> 1)]).stream());
    await expect(collect(r)).rejects.toBeInstanceOf(LayerFormatError);
    expect(existsSync(blob.path)).toBe(true);
  });
});
