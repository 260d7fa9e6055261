// Per-file cost of a snapshot that takes 100,000 new small files into a layer (walk, diff, read,
// tar, gzip), in-process on RootFS, without the step that wrote them: the tree is made once and kept
// (`<tree>`), and each run snapshots it as a root nobody has baselined (everything in it is new).
// Usage: bun scripts/bench/snapshot-files.ts <tree dir> [files=100000] [runs=3] [lib/rootfs dir]
// The last argument lets the same script measure another checkout (a git worktree), for A/B runs;
// `strace -c -f` or `valgrind --tool=callgrind` around one run (runs=1) count syscalls/instructions.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const tree = resolve(process.argv[2] ?? "");
const files = Number(process.argv[3] ?? 100_000);
const runs = Number(process.argv[4] ?? 3);
const rootfsDir = resolve(process.argv[5] ?? join(import.meta.dir, "../../lib/rootfs"));
const { RootFS } = await import(join(rootfsDir, "mod.ts"));
const { silentLogger } = await import(join(rootfsDir, "../log/mod.ts"));
if (!process.argv[2]) throw new Error("usage: snapshot-files.ts <tree dir> [files] [runs] [lib/rootfs dir]");

const root = join(tree, "root");
if (!existsSync(join(tree, "done"))) {
  // Same shape as snapshot-noop.ts and snapshot-e2e.ts: 100 directories of 1,000 files, a few bytes each.
  for (let i = 0; i < files; i++) {
    const d = join(root, "data", String(Math.floor(i / 1000)));
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, String(i % 1000)), `${i}\n`);
  }
  writeFileSync(join(tree, "done"), "");
}
const tmp = mkdtempSync(join(tree, "out-"));
try {
  const ms: number[] = [];
  const cpu: number[] = []; // user + system, all threads: steadier than wall time on a loaded machine
  let digest = "";
  for (let r = 0; r < runs; r++) {
    // As if just written: an atime older than the mtime, so a read updates it (relatime), as it does
    // for the files a RUN has just made.
    for (const d of readdirSync(join(root, "data"))) {
      for (const f of readdirSync(join(root, "data", d))) utimesSync(join(root, "data", d, f), 0, 1_700_000_000);
    }
    const fs = new RootFS(root, { logger: silentLogger, tmpDir: tmp });
    const t = performance.now();
    const c = process.cpuUsage();
    const layer = await fs.snapshot({ compression: "gzip", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" });
    ms.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    digest = layer.digest;
    rmSync(layer.path!, { force: true });
  }
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(await Bun.file("/proc/self/status").text())![1]) / 1024;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
  console.log(`snapshot of ${files} new files: median ${median(ms)} ms (runs ${ms.map((x) => x.toFixed(0)).join(" ")}), CPU median ${median(cpu)} ms (${cpu.map((x) => x.toFixed(0)).join(" ")}); ` +
    `${digest.slice(0, 19)}; peak RSS ${hwm.toFixed(0)} MiB (${rootfsDir})`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
