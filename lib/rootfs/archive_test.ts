import { afterAll, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tarStream, type TarEntry } from "../layer/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { ArchiveError, archiveCodec, extractArchive } from "./mod.ts";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function archive(entries: TarEntry[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-untar-"));
  dirs.push(dir);
  const chunks: Uint8Array[] = [];
  for await (const c of tarStream(entries)) chunks.push(c);
  writeFileSync(join(dir, "a.tar"), Buffer.concat(chunks));
  mkdirSync(join(dir, "root", "dest"), { recursive: true });
  return dir;
}

const h = (name: string, type: TarEntry["header"]["type"], extra: Partial<TarEntry["header"]> = {}) =>
  ({ name, type, mode: type === "directory" ? 0o755 : 0o640, uid: 7, gid: 8, mtime: new Date(1_000_000_000), ...extra });

test("ADD's rules, not a layer's: entries and hardlinks under the destination, .wh. names literal, devices skipped, --chown and --chmod", async () => {
  const dir = await archive([
    { header: h("../../up.txt", "file"), body: new TextEncoder().encode("up") },
    { header: h(".wh.gone", "file"), body: new Uint8Array(0) },
    { header: h("d/", "directory") },
    { header: h("d/link", "link", { linkname: "/up.txt" }) },
    { header: h("null", "character-device", { devmajor: 1, devminor: 3 }) },
  ]);
  const root = join(dir, "root");
  expect(await archiveCodec(join(dir, "a.tar"))).toBe("none");
  const written = await extractArchive(root, join(dir, "a.tar"), "none", "/dest", {
    logger: silentLogger, owner: { uid: 1, gid: 2 }, mode: (bits, isDir) => (isDir ? 0o700 : bits | 0o4),
  });
  expect(written).toEqual(["/dest/up.txt", "/dest/.wh.gone", "/dest/d", "/dest/d/link"]);
  expect(readFileSync(join(root, "dest/up.txt"), "utf8")).toBe("up");
  const st = lstatSync(join(root, "dest/up.txt"));
  expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, nlink: st.nlink, mtime: st.mtimeMs }).toEqual({ uid: 1, gid: 2, mode: 0o644, nlink: 2, mtime: 1e9 });
  expect(lstatSync(join(root, "dest/d")).mode & 0o7777).toBe(0o700);
  expect(lstatSync(join(root, "dest/null"), { throwIfNoEntry: false })).toBeUndefined();
});

test("a hardlink to what the destination lacks names the entry and its target, not the host path", async () => {
  const dir = await archive([{ header: h("b", "link", { linkname: "/etc/passwd" }) }]);
  const err = await extractArchive(join(dir, "root"), join(dir, "a.tar"), "none", "/dest", { logger: silentLogger }).catch((e) => e);
  expect(err).toBeInstanceOf(ArchiveError);
  expect(err.message).toStartWith('entry "b": hardlink to "etc/passwd": /dest/etc/passwd does not exist'); // lib/layer writes link targets relative
  expect(err.message).not.toContain(dir);
});

test("an entry that cannot be unpacked, or a cut-off archive, is an ArchiveError (ADD names its line), not a layer's error", async () => {
  const dir = await archive([{ header: h("a", "file"), body: new TextEncoder().encode("x") }, { header: h("a/b", "file"), body: new Uint8Array(0) }]);
  const root = join(dir, "root");
  const err = await extractArchive(root, join(dir, "a.tar"), "none", "/dest", { logger: silentLogger }).catch((e) => e);
  expect(err).toBeInstanceOf(ArchiveError);
  expect(err.message).toMatch(/^entry "a\/b": parent .* is not a directory/);
  const whole = readFileSync(join(dir, "a.tar"));
  writeFileSync(join(dir, "cut.tar"), whole.subarray(0, 700)); // a header and part of the next block
  mkdirSync(join(root, "dest2"));
  const cut = await extractArchive(root, join(dir, "cut.tar"), "none", "/dest2", { logger: silentLogger }).catch((e) => e);
  expect(cut).toBeInstanceOf(ArchiveError);
  expect(cut.message).toStartWith("not a valid tar archive");
  expect(cut.message).not.toContain("re-pull");
});
