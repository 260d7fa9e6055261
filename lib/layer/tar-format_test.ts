// The tar format against GNU tar, which shares no code with ours: xattrs byte for byte both ways,
// sparse files (GNU and PAX 1.0), GNU long names and links, PAX long names, corrupt headers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLayer, writeLayer, LayerFormatError, type TarEntry } from "./mod.ts";

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "kiln-tarfmt-")); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8" });
const t0 = new Date(1_700_000_000_000);
// A real file capability (cap_setuid,cap_net_bind_service=ep): bytes >= 0x80 that are not UTF-8.
const CAP = new Uint8Array([1, 0, 0, 2, 0x80, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const BIN = new Uint8Array([0xff, 0x00, 0x80, 0x0a, 0x3d]); // NUL, newline and "=" inside the value

async function readAll(path: string) {
  const out = new Map<string, { header: any; bytes: Uint8Array }>();
  for await (const e of readLayer(Bun.file(path).stream())) {
    const parts: Uint8Array[] = [];
    for await (const c of e.body) parts.push(c);
    out.set(e.header.name, { header: e.header, bytes: Buffer.concat(parts) });
  }
  return out;
}

describe("xattrs", () => {
  test("written as SCHILY.xattr records that GNU tar restores byte for byte", async () => {
    const entries: TarEntry[] = [
      { header: { name: "bin/ping", type: "file", mode: 0o755, uid: 0, gid: 0, mtime: t0, xattrs: { "security.capability": CAP, "user.bin": BIN } }, body: new TextEncoder().encode("elf") },
      { header: { name: "bin/", type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: t0, xattrs: { "user.dir": new TextEncoder().encode("ü") } } },
    ];
    const blob = await writeLayer(entries, { dir, compression: "gzip" });
    const out = join(dir, "gnu-x");
    mkdirSync(out);
    sh(`tar --xattrs --xattrs-include='*' -xzf ${blob.path} -C ${out}`);
    const attrs = sh(`getfattr --absolute-names -d -m - -e hex ${out}/bin/ping`);
    expect(attrs).toContain(`security.capability=0x${Buffer.from(CAP).toString("hex")}`);
    expect(attrs).toContain(`user.bin=0x${Buffer.from(BIN).toString("hex")}`);
    expect(sh(`getfattr --absolute-names -n user.dir -e hex ${out}/bin`)).toContain("user.dir=0xc3bc");
    const back = await readAll(blob.path);
    expect(back.get("bin/ping")!.header.xattrs["security.capability"]).toEqual(CAP);
    expect(back.get("bin/ping")!.header.xattrs["user.bin"]).toEqual(BIN);
  });

  test("read byte for byte from a PAX tar GNU tar made", async () => {
    const src = join(dir, "x-src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "data");
    sh(`setfattr -n security.capability -v 0x${Buffer.from(CAP).toString("hex")} ${src}/f && setfattr -n user.k -v 0x${Buffer.from(BIN).toString("hex")} ${src}/f`);
    sh(`tar --xattrs --xattrs-include='*' --format=posix -C ${src} -cf ${dir}/x.tar f`);
    const got = await readAll(`${dir}/x.tar`);
    expect(got.get("f")!.header.xattrs["security.capability"]).toEqual(CAP);
    expect(got.get("f")!.header.xattrs["user.k"]).toEqual(BIN);
    expect(new TextDecoder().decode(got.get("f")!.bytes)).toBe("data");
  });
});

describe("GNU tar archives", () => {
  test("sparse files read with their holes as zeros (GNU old format and PAX 1.0)", async () => {
    const src = join(dir, "sparse");
    mkdirSync(src);
    sh(`truncate -s 3M ${src}/s && printf 'middle' | dd of=${src}/s bs=1 seek=1048576 conv=notrunc status=none && printf 'end' | dd of=${src}/s bs=1 seek=3145720 conv=notrunc status=none`);
    const want = readFileSync(join(src, "s"));
    for (const format of ["gnu", "posix"]) {
      sh(`tar --sparse --format=${format} -C ${src} -cf ${dir}/sparse-${format}.tar s`);
      // GNU tar really stored it sparse: the archive is far smaller than the file.
      expect(readFileSync(`${dir}/sparse-${format}.tar`).byteLength).toBeLessThan(64 * 1024);
      const e = (await readAll(`${dir}/sparse-${format}.tar`)).get("s")!;
      expect(e.header.size).toBe(want.byteLength);
      expect(Buffer.compare(Buffer.from(e.bytes), want)).toBe(0);
    }
  });

  test("GNU long names and long link targets; our PAX long names read back by GNU tar", async () => {
    const long = "l".repeat(120);
    const src = join(dir, "long");
    mkdirSync(join(src, long), { recursive: true });
    writeFileSync(join(src, long, "file"), "x");
    sh(`ln -s ${long}/${long}-target ${src}/link && tar --format=gnu -C ${src} -cf ${dir}/long.tar ${long} link`);
    const got = await readAll(`${dir}/long.tar`);
    expect(got.has(`${long}/file`)).toBe(true);
    expect(got.get("link")!.header.linkname).toBe(`${long}/${long}-target`);

    const name = `${"a".repeat(200)}/${"b".repeat(200)}`;
    const blob = await writeLayer([
      { header: { name, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0 }, body: new Uint8Array([1]) },
      { header: { name: "s", type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: t0, linkname: "t".repeat(300) } },
    ], { dir, compression: "none" });
    expect(sh(`tar -tvf ${blob.path}`)).toContain(name);
    expect(sh(`tar -tvf ${blob.path}`)).toContain("t".repeat(300));
  });

  test("a header with a bad checksum is a LayerFormatError", async () => {
    const blob = await writeLayer([{ header: { name: "f", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t0 }, body: new Uint8Array(3) }], { dir, compression: "none" });
    const bytes = readFileSync(blob.path);
    bytes[0] ^= 0x01; // name changes, checksum does not
    writeFileSync(`${dir}/bad.tar`, bytes);
    await expect(readAll(`${dir}/bad.tar`)).rejects.toBeInstanceOf(LayerFormatError);
  });
});
