// Applying a base layer: a 500 MiB, 20,000-file gzip layer unpacked by RootFS.apply (which also hashes
// every file for the index) against `tar -xzf` of the same blob into an empty directory (goal: within
// 1.5x). Also times the baseline index walk that follows apply in a build.
// Usage: bun scripts/bench/snapshot-apply.ts [MiB=500] [files=20000] [runs=3]
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer, sha256 } from "../../lib/image/mod.ts";
import { RootFS } from "../../lib/rootfs/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";

const mib = Number(process.argv[2] ?? 500);
const files = Number(process.argv[3] ?? 20_000);
const runs = Number(process.argv[4] ?? 3);
const top = mkdtempSync(join(tmpdir(), "kiln-bench-apply-"));
const sh = (cmd: string) => {
  const p = Bun.spawnSync(["bash", "-c", cmd], { stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString();
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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
  const bytes = await Bun.file(blob).bytes();
  const layer = fileLayer({ path: blob, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(bytes), size: bytes.byteLength, diffID });
  const tarTimes: number[] = [];
  const kilnTimes: number[] = [];
  const baseTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    const a = join(top, `tar${r}`);
    mkdirSync(a);
    sh("sync");
    let t = performance.now();
    sh(`tar -xzf ${blob} -C ${a}`);
    tarTimes.push(performance.now() - t);
    rmSync(a, { recursive: true, force: true });
    const b = join(top, `kiln${r}`);
    mkdirSync(b);
    sh("sync");
    const fs = new RootFS(b, { logger: silentLogger, tmpDir: top });
    t = performance.now();
    await fs.apply(layer);
    kilnTimes.push(performance.now() - t);
    t = performance.now();
    await fs.baseline();
    baseTimes.push(performance.now() - t);
    rmSync(b, { recursive: true, force: true });
  }
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  console.log(`layer ${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB gzip, ${mib} MiB / ${files} files uncompressed`);
  console.log(`tar -xzf: median ${s(median(tarTimes))} [${tarTimes.map(s).join(", ")}]`);
  console.log(`kiln apply: median ${s(median(kilnTimes))} [${kilnTimes.map(s).join(", ")}]  ratio ${(median(kilnTimes) / median(tarTimes)).toFixed(2)}x`);
  console.log(`kiln baseline index after apply: median ${s(median(baseTimes))}`);
} finally {
  rmSync(top, { recursive: true, force: true });
}
