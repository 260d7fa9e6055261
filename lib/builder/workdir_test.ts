import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/mod.ts";
import { BuildDir, reapDeadBuilds } from "./workdir.ts";

const base = mkdtempSync(join(tmpdir(), "kiln-workdir-test-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

test("each build gets its own directory, and removing it leaves the others", () => {
  const a = BuildDir.create(base, { removeEmptyBase: false });
  const b = BuildDir.create(base, { removeEmptyBase: false });
  expect(a.dir).not.toBe(b.dir);
  a.remove();
  expect(existsSync(a.dir)).toBe(false);
  expect(existsSync(b.dir)).toBe(true);
  b.remove();
  expect(existsSync(join(base, "builds"))).toBe(false);
  expect(existsSync(base)).toBe(true);
});

test("the reaper removes a dead process's directory and leaves a live one's", async () => {
  const live = BuildDir.create(base, { removeEmptyBase: false });
  // A process that makes its directory and dies without removing it (as after SIGKILL).
  const child = Bun.spawnSync([process.execPath, "-e",
    `import { BuildDir } from ${JSON.stringify(join(import.meta.dir, "workdir.ts"))}; BuildDir.create(${JSON.stringify(base)}, { removeEmptyBase: false }); process.exit(0);`]);
  expect(child.exitCode).toBe(0);
  expect(readdirSync(join(base, "builds"))).toHaveLength(2);
  await reapDeadBuilds(base, silentLogger);
  expect(readdirSync(join(base, "builds"))).toEqual([live.dir.split("/").pop()!]);
  live.remove();
});
