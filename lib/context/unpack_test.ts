import { afterAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { badArchives, contextTarGz, rawTar, rawTarGz } from "../../tests/support/context-archives.ts";
import { entryProblem, unpackContext } from "./unpack.ts";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const fresh = () => { const d = mkdtempSync(join(tmpdir(), "kiln-unpack-")); dirs.push(d); return d; };
const source = (bytes: Uint8Array) => ({ stream: new Blob([bytes]).stream(), describe: "tar://test.tar.gz" });
const GiB = 1024 ** 3;

test("a gzip'd tar and a plain tar unpack into the directory, symlinks kept as links", async () => {
  for (const bytes of [rawTarGz([{ name: "./sub/", type: "dir" }, { name: "./sub/f", body: "hello" }, { name: "l", type: "symlink", linkname: "sub/f" }]),
    rawTar([{ name: "sub/f", body: "hello" }, { name: "l", type: "symlink", linkname: "sub/f" }])]) {
    const dest = fresh();
    await unpackContext(source(bytes), dest, { maxBytes: GiB });
    expect(readFileSync(join(dest, "sub/f"), "utf8")).toBe("hello");
    expect(readlinkSync(join(dest, "l"))).toBe("sub/f");
    expect(lstatSync(join(dest, "sub/f")).uid).toBe(process.getuid!());
  }
});

test("hostile and broken archives are refused with one line naming the source, and write nothing outside", async () => {
  for (const bad of badArchives()) {
    const parent = fresh();
    const dest = join(parent, "ctx");
    mkdirSync(dest);
    const err = await unpackContext(source(bad.bytes), dest, { maxBytes: GiB }).then(() => undefined, (e) => e);
    expect(err?.name, bad.what).toBe("ContextError");
    expect(err.message, bad.what).toMatch(bad.error);
    expect(err.message.startsWith("--context tar://test.tar.gz: "), bad.what).toBe(true);
    expect(err.message.includes("\n"), bad.what).toBe(false);
    expect(readdirSync(parent)).toEqual(["ctx"]);
  }
  expect(existsSync("/tmp/kiln-absolute-entry")).toBe(false);
  expect(existsSync("/tmp/kiln-through-symlink")).toBe(false);
  expect(existsSync(join(tmpdir(), "escaped"))).toBe(false);
});

test("the size limit counts headers and bodies, and the message names the flag that raises it", async () => {
  const bytes = contextTarGz({ a: "x".repeat(3000), b: "y".repeat(3000) });
  const err = await unpackContext(source(bytes), fresh(), { maxBytes: 4096 }).then(() => undefined, (e) => e);
  expect(err?.message).toBe("--context tar://test.tar.gz: the context is larger than the limit of 4 KiB; raise it with --context-size-limit");
  await unpackContext(source(bytes), fresh(), { maxBytes: 2 * 512 + 6000 });
});

test("an empty archive is refused", async () => {
  const err = await unpackContext(source(new Uint8Array(0)), fresh(), { maxBytes: GiB }).then(() => undefined, (e) => e);
  expect(err?.message).toMatch(/archive is empty/);
});

test("entry names: .. and absolute refused, ./ prefixes and plain names fine, below a symlink refused", () => {
  const links = new Set(["l", "d/l2"]);
  expect(entryProblem("./a/b", links)).toBeUndefined();
  expect(entryProblem("a/..b", links)).toBeUndefined();
  expect(entryProblem("a/../b", links)).toMatch(/climbs/);
  expect(entryProblem("/etc/passwd", links)).toMatch(/absolute/);
  expect(entryProblem("./l/x", links)).toMatch(/below "l"/);
  expect(entryProblem("d/l2/x/y", links)).toMatch(/below "d\/l2"/);
  expect(entryProblem("l", links)).toBeUndefined();
});
