import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/mod.ts";
import { scratchBase } from "./base.ts";
import { StageRoot } from "./root.ts";

test("a stage's root is set up once, however many callers ask at the same time (two stages copying from it)", async () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-root-"));
  try {
    const src = join(d, "base-root");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "from the base stage\n");
    let copies = 0;
    const root = new StageRoot({
      dir: join(d, "roots/1"), base: scratchBase({ os: "linux", architecture: "amd64" }),
      baseRoot: async () => { copies++; return src; },
      ignorePaths: ["/proc", "/sys", "/dev"], snapshotMode: "full", extractRetries: 0, logger: silentLogger, tmpDir: d,
    });
    expect(root.current).toBeUndefined();
    const [a, b] = await Promise.all([root.get(), root.get()]);
    expect(a).toBe(b);
    expect(root.current).toBe(a);
    expect(copies).toBe(1);
    expect(readFileSync(join(d, "roots/1/f"), "utf8")).toBe("from the base stage\n");
    expect(statSync(join(d, "roots/1")).mode & 0o777).toBe(0o755);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
