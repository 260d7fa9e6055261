// Snapshot cost in a 100,000-file tree, in-process on RootFS itself: the snapshot of a step that wrote
// the 100,000 files (walk, diff, tar, gzip), a snapshot after a step that changed nothing (goal: under
// 1 s), and one after a step that changed one file.
// Usage: bun scripts/bench/snapshot-noop.ts [files=100000] [runs=5]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RootFS } from "../../lib/rootfs/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";

const files = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 5);
const top = mkdtempSync(join(tmpdir(), "kiln-bench-noop-"));
const root = join(top, "root");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const fs = new RootFS(root, { logger: silentLogger, tmpDir: top });
  mkdirSync(root);
  await fs.baseline();
  for (let i = 0; i < files; i++) {
    const d = join(root, "data", String(Math.floor(i / 1000)));
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, String(i % 1000)), `${i}\n`);
  }
  let t = performance.now();
  const big = await fs.snapshot({ compression: "gzip", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" });
  const first = performance.now() - t;
  if (!big) throw new Error("writing the files produced no layer");
  const noop: number[] = [];
  for (let r = 0; r < runs; r++) {
    t = performance.now();
    const l = await fs.snapshot({ compression: "gzip", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" });
    noop.push(performance.now() - t);
    if (l) throw new Error("a no-op step produced a layer");
  }
  const one: number[] = [];
  for (let r = 0; r < runs; r++) {
    writeFileSync(join(root, "data", "7", "7"), `changed ${r}\n`);
    t = performance.now();
    const l = await fs.snapshot({ compression: "gzip", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" });
    one.push(performance.now() - t);
    if (!l) throw new Error("a one-file change produced no layer");
  }
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`files ${files}; snapshot writing them ${f(first)} (${(big.size / 2 ** 20).toFixed(1)} MiB gzip); no-op snapshot median ${f(median(noop))} (min ${f(Math.min(...noop))}); one-file snapshot median ${f(median(one))} (min ${f(Math.min(...one))})`);
} finally {
  rmSync(top, { recursive: true, force: true });
}
