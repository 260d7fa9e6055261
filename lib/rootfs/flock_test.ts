import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileLock } from "./flock.ts";

const dir = mkdtempSync(join(tmpdir(), "kiln-flock-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("exclusive excludes everyone, shared holders coexist, release frees", () => {
  const path = join(dir, "a.lock");
  const ex = FileLock.try(path)!;
  expect(ex).toBeDefined();
  expect(FileLock.try(path)).toBeUndefined();
  expect(FileLock.try(path, { shared: true })).toBeUndefined();
  ex.release();
  const s1 = FileLock.try(path, { shared: true })!, s2 = FileLock.try(path, { shared: true })!;
  expect(s1 && s2).toBeDefined();
  expect(FileLock.try(path)).toBeUndefined();
  s1.release();
  s2.release();
  FileLock.try(path)!.release();
});

test("a lock held by another process is busy until that process dies, even by SIGKILL", async () => {
  const path = join(dir, "b.lock");
  const child = Bun.spawn([process.execPath, "-e",
    `import { FileLock } from ${JSON.stringify(join(import.meta.dir, "flock.ts"))}; FileLock.try(${JSON.stringify(path)}); console.log("held"); await Bun.sleep(600000);`], { stdout: "pipe" });
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "held"
    expect(FileLock.try(path)).toBeUndefined();
    const waiting = FileLock.acquire(path);
    child.kill("SIGKILL");
    await child.exited;
    (await waiting).release();
  } finally {
    child.kill("SIGKILL");
  }
});

test("a missing lock file is an error unless it may be created", () => {
  expect(() => FileLock.try(join(dir, "missing.lock"), { create: false })).toThrow(/ENOENT/);
});
