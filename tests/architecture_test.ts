import { test, expect } from "bun:test";
import { resolve } from "node:path";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkDeps } from "../scripts/check-deps.ts";

test("lib/ folders keep ARCHITECTURE.md's dependency rules", () => {
  expect(checkDeps(resolve(import.meta.dir, ".."))).toEqual([]);
});

test("the checker catches a forbidden import and a deep import", () => {
  const repo = mkdtempSync(join(tmpdir(), "kiln-deps-"));
  try {
    for (const d of ["lib/shell", "lib/registry", "lib/image", "cli"]) mkdirSync(join(repo, d), { recursive: true });
    writeFileSync(join(repo, "lib/shell/a.ts"), `import { x } from "../registry/mod.ts";\n`);
    writeFileSync(join(repo, "lib/registry/b.ts"), `import { y } from "../image/types.ts";\n`);
    writeFileSync(join(repo, "cli/main.ts"), `import { z } from "../lib/builder/mod.ts";\n`);
    const problems = checkDeps(repo);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain("lib/shell may not use lib/registry");
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test("the checker catches a re-export across folders and a deep import in the top-level mod.ts", () => {
  const repo = mkdtempSync(join(tmpdir(), "kiln-deps-"));
  try {
    for (const d of ["lib/rootfs", "lib/layer", "cli"]) mkdirSync(join(repo, d), { recursive: true });
    writeFileSync(join(repo, "lib/rootfs/mod.ts"), `export { readLayer } from "../layer/mod.ts";\nimport { x } from "../layer/mod.ts";\n`);
    writeFileSync(join(repo, "mod.ts"), `export { a } from "./lib/rootfs/mod.ts";\nexport { b } from "./lib/rootfs/apply.ts";\n`);
    expect(checkDeps(repo)).toEqual([
      "lib/rootfs/mod.ts: re-exports ../layer/mod.ts: lib/rootfs may not re-export lib/layer's code as its own",
      "mod.ts: re-exports ./lib/rootfs/apply.ts: the top-level mod.ts may use only the folders' mod.ts",
    ]);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
