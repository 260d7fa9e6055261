// Applying a base layer: a 500 MiB, 20,000-file gzip layer unpacked by RootFS.apply (which also hashes
// every file for the index) against `tar -xzf` of the same blob into an empty directory (goal: within
// 1.5x). Also times the baseline index walk that follows apply in a build.
// Runs alternate (tar, kiln, kiln, tar, ...) and nothing is deleted until the end: ext4 skips inodes
// freed in the last minutes when it allocates, so a run right after deleting 20,000 files pays
// several times the kernel time of one on a quiet disk. As root the runs go to a fresh ext4 file
// system on a loop device (KILN_BENCH_LOOP=0 to use the temp dir's own file system instead).
// Usage: bun scripts/bench/snapshot-apply.ts [MiB=500] [files=20000] [runs=4]
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer } from "../../lib/image/mod.ts";
import { RootFS } from "../../lib/rootfs/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { benchFileSystem, median, seconds as s, sh, timedTarExtract, writeTextTree } from "./support.ts";

const mib = Number(process.argv[2] ?? 500);
const files = Number(process.argv[3] ?? 20_000);
const runs = Number(process.argv[4] ?? 4);
const top = mkdtempSync(join(tmpdir(), "kiln-bench-apply-"));
try {
  const src = join(top, "src");
  writeTextTree(src, mib, files);
  const blob = join(top, "layer.tgz");
  sh(`tar -C ${src} --sort=name -cf - . | gzip -6 > ${blob}`);
  rmSync(src, { recursive: true, force: true });
  const diffID = "sha256:" + sh(`gzip -dc ${blob} | sha256sum`).split(" ")[0];
  const digest = "sha256:" + sh(`sha256sum ${blob}`).split(" ")[0];
  const size = Bun.file(blob).size;
  const layer = fileLayer({ path: blob, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size, diffID });
  const fsys = benchFileSystem(top, (mib * (runs * 2 + 1)) / 1024 + 1);
  const out = fsys.dir;
  const tarTimes: number[] = [];
  const kilnTimes: number[] = [];
  const baseTimes: number[] = [];
  const cpu: string[] = [];
  const tarRun = (r: number) => {
    const t = timedTarExtract(blob, join(out, `tar${r}`));
    tarTimes.push(t.ms);
    cpu.push(`tar ${s(t.ms)} (user ${t.user} s, sys ${t.sys} s)`);
  };
  try {
    for (let r = 0; r < runs; r++) {
      if (r % 2 === 0) tarRun(r);
      const b = join(out, `kiln${r}`);
      mkdirSync(b);
      sh("sync");
      const fs = new RootFS(b, { logger: silentLogger, tmpDir: top });
      const c0 = process.cpuUsage();
      let t = performance.now();
      await fs.apply(layer);
      kilnTimes.push(performance.now() - t);
      const c = process.cpuUsage(c0);
      cpu.push(`kiln ${s(kilnTimes.at(-1)!)} (user ${(c.user / 1e6).toFixed(2)} s, sys ${(c.system / 1e6).toFixed(2)} s)`);
      t = performance.now();
      await fs.baseline();
      baseTimes.push(performance.now() - t);
      sh("sync");
      if (r % 2 === 1) tarRun(r);
    }
  } finally {
    fsys.close();
  }
  console.log(`layer ${(size / 2 ** 20).toFixed(0)} MiB gzip, ${mib} MiB / ${files} files uncompressed, unpacked on ${fsys.loop ? "a fresh ext4 (loop)" : out}`);
  console.log(cpu.join("\n"));
  console.log(`tar -xzf: median ${s(median(tarTimes))} [${tarTimes.map(s).join(", ")}]`);
  console.log(`kiln apply: median ${s(median(kilnTimes))} [${kilnTimes.map(s).join(", ")}]  ratio ${(median(kilnTimes) / median(tarTimes)).toFixed(2)}x`);
  console.log(`kiln baseline index after apply: median ${s(median(baseTimes))}`);
} finally {
  rmSync(top, { recursive: true, force: true });
}
