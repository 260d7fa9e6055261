import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer, type Layer } from "../image/mod.ts";
import { writeLayer } from "../layer/mod.ts";
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

test("a failing base-layer extraction is retried --image-fs-extract-retry times, then named with its attempts", async () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-root-"));
  try {
    const written = await writeLayer([{ header: { name: "f", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) }, body: new TextEncoder().encode("x") }], { dir: d, compression: "gzip" });
    const good = fileLayer({ path: written.path, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: written.digest, size: written.size, diffID: written.diffID });
    let failures = 1;
    // No path: apply would read a layer file directly, and this one fails through open().
    const { path: _, ...streamed } = good;
    const flaky: Layer = { ...streamed, open: async () => { if (failures-- > 0) throw new Error("connection reset"); return good.open(); } };
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => { warnings.push(m); } };
    const rootWith = (name: string, extractRetries: number) => new StageRoot({
      dir: join(d, name), base: { ...scratchBase({ os: "linux", architecture: "amd64" }), layers: [flaky] },
      ignorePaths: [], snapshotMode: "full", extractRetries, extractRetryDelayMs: 1, logger, tmpDir: d,
    });
    await rootWith("a", 1).get();
    expect(readFileSync(join(d, "a/f"), "utf8")).toBe("x");
    expect(warnings.join("\n")).toContain("connection reset; retrying in 1 ms (attempt 2/2)");
    failures = 2;
    await expect(rootWith("b", 1).get()).rejects.toThrow("connection reset (after 2 attempts)");
    failures = 1;
    await expect(rootWith("c", 0).get()).rejects.toThrow(/^connection reset$/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
