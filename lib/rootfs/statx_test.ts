import { afterAll, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devMajor, devMinor, mtimeMs, statPath } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "kiln-statx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const floorMs = (ns: bigint) => Number(ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n));

// Every field read out of struct statx must equal what node:fs reports for the same path.
test("statx records match lstat: files, dirs, symlinks, devices, pre-1970 and nanosecond times", () => {
  writeFileSync(join(dir, "f"), "x".repeat(70_000));
  // Before 1970, with a half second (node's utimes ignores negative times; touch does not).
  expect(Bun.spawnSync(["touch", "-d", "@-86400.5", join(dir, "f")]).exitCode).toBe(0);
  mkdirSync(join(dir, "d"));
  symlinkSync("../somewhere", join(dir, "l"));
  const paths = ["/f", "/d", "/l"];
  if (process.getuid?.() === 0) {
    Bun.spawnSync(["mknod", join(dir, "c"), "c", "4", "70000"]);
    paths.push("/c");
  }
  for (const p of paths) {
    const st = lstatSync(join(dir, p), { bigint: true });
    const r = statPath(dir, p)!;
    if (p === "/f") expect(st.mtimeNs).toBe(-86_400_500_000_000n);
    expect(r.mode).toBe(Number(st.mode));
    expect([r.uid, r.gid, r.nlink]).toEqual([Number(st.uid), Number(st.gid), Number(st.nlink)]);
    expect(BigInt(r.ino)).toBe(st.ino);
    expect(BigInt(r.size)).toBe(st.size);
    expect(BigInt(r.mtimeSec) * 1_000_000_000n + BigInt(r.mtimeNsec)).toBe(st.mtimeNs);
    expect(BigInt(r.ctimeSec) * 1_000_000_000n + BigInt(r.ctimeNsec)).toBe(st.ctimeNs);
    expect(mtimeMs(r)).toBe(floorMs(st.mtimeNs));
    if (p === "/l") expect(r.link).toBe("../somewhere");
    if (p === "/c") expect([devMajor(r.rdev), devMinor(r.rdev)]).toEqual([4, 70000]);
  }
  expect(statPath(dir, "/missing")).toBeUndefined();
});
