// Layer-writing throughput and peak memory: writeLayer of one file of N MiB of text-like bytes
// (tar -> diffID -> compression -> digest -> temp file), without a build around it.
// Usage: bun scripts/bench/snapshot-write.ts [MiB=1024] [gzip|zstd|none] [level=1] [lib/layer dir]
// The last argument lets the same script measure another checkout's lib/layer (a git worktree).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const mib = Number(process.argv[2] ?? 1024);
const codec = (process.argv[3] ?? "gzip") as "gzip" | "zstd" | "none";
const level = Number(process.argv[4] ?? 1);
const layerDir = resolve(process.argv[5] ?? join(import.meta.dir, "../../lib/layer"));
const { writeLayer } = await import(join(layerDir, "mod.ts"));

// 8 MiB of numbered lines, repeated: compressible as logs or source are, not trivially.
const pattern = new Uint8Array(8 << 20);
for (let i = 0, n = 0; n < pattern.byteLength; i++) n += new TextEncoder().encodeInto(`${i * 7919 % 1_000_003} entry ${i}\n`, pattern.subarray(n)).written;
Bun.gc(true);
const rssBefore = process.memoryUsage().rss / 2 ** 20;
const size = mib * 2 ** 20;
async function* body() {
  for (let left = size; left > 0;) {
    for (let o = 0; o < pattern.byteLength && left > 0; o += 256 << 10) {
      const c = pattern.subarray(o, o + Math.min(256 << 10, left));
      left -= c.byteLength;
      yield c;
    }
  }
}
const dir = mkdtempSync(join(tmpdir(), "kiln-bench-write-"));
try {
  const t = performance.now();
  const blob = await writeLayer([{ header: { name: "big", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), size }, body: body() }], { dir, compression: codec, level });
  const s = (performance.now() - t) / 1000;
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
  console.log(`${mib} MiB ${codec}-${level}: ${s.toFixed(2)} s, ${(mib / s).toFixed(0)} MiB/s, blob ${(statSync(blob.path).size / 2 ** 20).toFixed(0)} MiB, peak RSS ${hwm.toFixed(0)} MiB (${rssBefore.toFixed(0)} MiB before writing; ${layerDir})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
