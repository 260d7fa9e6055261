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

const mib = Number(process.argv[2] ?? 500);
const files = Number(process.argv[3] ?? 20_000);
const runs = Number(process.argv[4] ?? 4);
const top = mkdtempSync(join(tmpdir(), "kiln-bench-apply-"));
const sh = (cmd: string) => {
  const p = Bun.spawnSync(["bash", "-c", cmd], { stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString();
};
const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
try {
  // Text-like content (base64 of random bytes) so gzip has real work, in 100 directories.
  const src = join(top, "src");
  const per = Math.floor((mib * 1024 * 1024) / files);
  sh(`mkdir -p ${src} && cd ${src} && head -c ${Math.ceil((mib * 1024 * 1024 * 3) / 4) + 1024} /dev/urandom | base64 -w 0 > /tmp/.kiln-bench-pool-$$ &&
      python3 - ${files} ${per} /tmp/.kiln-bench-pool-$$ <<'PY'
import os, sys
n, per, pool = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(pool, "rb") as f:
    for i in range(n):
        d = f"d{i % 100}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i}", "wb") as o:
            o.write(f.read(per))
PY
      rm -f /tmp/.kiln-bench-pool-$$`);
  const blob = join(top, "layer.tgz");
  sh(`tar -C ${src} --sort=name -cf - . | gzip -6 > ${blob}`);
  rmSync(src, { recursive: true, force: true });
  const diffID = "sha256:" + sh(`gzip -dc ${blob} | sha256sum`).split(" ")[0];
  const bytes = { byteLength: Bun.file(blob).size };
  const digest = "sha256:" + sh(`sha256sum ${blob}`).split(" ")[0];
  const layer = fileLayer({ path: blob, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: bytes.byteLength, diffID });
  // Where the runs unpack: a fresh ext4 (see above) or the temp dir.
  let out = top;
  let loop = false;
  if (process.getuid?.() === 0 && process.env.KILN_BENCH_LOOP !== "0") {
    const img = join(top, "fs.img");
    out = join(top, "mnt");
    mkdirSync(out);
    sh(`truncate -s ${Math.ceil((mib * (runs * 2 + 1)) / 1024) + 1}G ${img} && mkfs.ext4 -q -F ${img} && mount -o loop ${img} ${out}`);
    loop = true;
  }
  const tarTimes: number[] = [];
  const kilnTimes: number[] = [];
  const baseTimes: number[] = [];
  const cpu: string[] = [];
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const tarRun = (r: number) => {
    const a = join(out, `tar${r}`);
    mkdirSync(a);
    sh("sync");
    const t = performance.now();
    const times = sh(`TIMEFORMAT='%U %S'; { time tar -xzf ${blob} -C ${a}; } 2>&1`).trim().split(" ");
    tarTimes.push(performance.now() - t);
    cpu.push(`tar ${s(tarTimes.at(-1)!)} (user ${times[0]} s, sys ${times[1]} s)`);
    sh("sync");
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
    if (loop) sh(`umount ${out}`);
  }
  console.log(`layer ${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB gzip, ${mib} MiB / ${files} files uncompressed, unpacked on ${loop ? "a fresh ext4 (loop)" : out}`);
  console.log(cpu.join("\n"));
  console.log(`tar -xzf: median ${s(median(tarTimes))} [${tarTimes.map(s).join(", ")}]`);
  console.log(`kiln apply: median ${s(median(kilnTimes))} [${kilnTimes.map(s).join(", ")}]  ratio ${(median(kilnTimes) / median(tarTimes)).toFixed(2)}x`);
  console.log(`kiln baseline index after apply: median ${s(median(baseTimes))}`);
} finally {
  rmSync(top, { recursive: true, force: true });
}
