// Applying a base image as a build does: the layer streams from a registry (digest checked as it
// arrives) into the build root. The base is a 500 MiB, 20,000-file layer that kiln itself built and
// pushed (COPY onto busybox); each kiln run is `FROM <it>` + `RUN true` with --no-push, and its
// debug log gives the apply time of that layer ("layer applied ... ms"). `tar -xzf` of the same
// blob (fetched with skopeo) is the yardstick (goal: within 1.5x). As in snapshot-apply.ts, runs
// alternate, nothing is deleted until the end, and as root everything lies on a fresh ext4 file
// system on a loop device (KILN_BENCH_LOOP=0: the temp dir's own).
// Usage: bun scripts/bench/apply-registry.ts [MiB=500] [files=20000] [runs=4]
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusybox } from "../../tests/support/base-images.ts";
import { ensureBinary } from "../../tests/support/kiln.ts";

const mib = Number(process.argv[2] ?? 500);
const files = Number(process.argv[3] ?? 20_000);
const runs = Number(process.argv[4] ?? 4);
const outer = mkdtempSync(join(tmpdir(), "kiln-bench-apply-reg-"));
const sh = (cmd: string) => {
  const p = Bun.spawnSync(["bash", "-c", cmd], { stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString() + p.stderr.toString();
};
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
let top = outer;
const loop = process.getuid?.() === 0 && process.env.KILN_BENCH_LOOP !== "0";
const reg = await startRegistry();
try {
  if (loop) {
    top = join(outer, "mnt");
    sh(`mkdir ${top} && truncate -s ${Math.ceil((mib * (runs * 2 + 4)) / 1024) + 2}G ${outer}/fs.img && mkfs.ext4 -q -F ${outer}/fs.img && mount -o loop ${outer}/fs.img ${top}`);
  }
  const kiln = await ensureBinary();
  const base = await pushBusybox(reg);
  const ctx = join(top, "ctx");
  const per = Math.floor((mib * 1024 * 1024) / files);
  // Text-like content (base64 of random bytes) so gzip has real work, in 100 directories.
  sh(`mkdir -p ${ctx}/src && cd ${ctx}/src && head -c ${Math.ceil((mib * 1024 * 1024 * 3) / 4) + 1024} /dev/urandom | base64 -w 0 > ${top}/pool &&
      python3 - ${files} ${per} ${top}/pool <<'PY'
import os, sys
n, per, pool = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(pool, "rb") as f:
    for i in range(n):
        d = f"d{i % 100}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i}", "wb") as o:
            o.write(f.read(per))
PY
      rm -f ${top}/pool`);
  const image = `${reg.host}/bench/apply:1`;
  await Bun.write(join(ctx, "Dockerfile"), `FROM ${base}\nCOPY src/ /data/\n`);
  sh(`${kiln} -c ${ctx} -d ${image} --insecure --insecure-pull --compression-level 6 --kaniko-dir ${top}/push-work`);
  sh(`skopeo copy -q --src-tls-verify=false docker://${image} oci:${top}/layout:1`);
  // The biggest blob of the layout is the 500 MiB layer.
  const blobs = join(top, "layout/blobs/sha256");
  const blob = readdirSync(blobs).map((b) => join(blobs, b)).sort((a, b) => Bun.file(b).size - Bun.file(a).size)[0];
  const fromCtx = join(top, "from");
  mkdirSync(fromCtx);
  await Bun.write(join(fromCtx, "Dockerfile"), `FROM ${image}\nRUN true\n`);

  const tarTimes: number[] = [];
  const kilnTimes: number[] = [];
  const lines: string[] = [];
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const tarRun = (r: number) => {
    const a = join(top, `tar${r}`);
    mkdirSync(a);
    sh("sync");
    const t = performance.now();
    sh(`tar -xzf ${blob} -C ${a}`);
    tarTimes.push(performance.now() - t);
    lines.push(`tar ${s(tarTimes.at(-1)!)}`);
    sh("sync");
  };
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) tarRun(r);
    const log = sh(`${kiln} -c ${fromCtx} --no-push --insecure-pull --kaniko-dir ${top}/kiln${r} -v debug --log-format text`);
    const applied = [...log.matchAll(/layer applied .*paths=(\d+) ms=(\d+)/g)].map((m) => ({ paths: Number(m[1]), ms: Number(m[2]) }));
    const big = applied.sort((a, b) => b.paths - a.paths)[0];
    if (!big) throw new Error(`no "layer applied" line in kiln's log:\n${log.slice(-2000)}`);
    kilnTimes.push(big.ms);
    lines.push(`kiln ${s(big.ms)} (${big.paths} paths)`);
    sh("sync");
    if (r % 2 === 1) tarRun(r);
  }
  console.log(`layer ${(Bun.file(blob).size / 2 ** 20).toFixed(0)} MiB gzip (kiln-built, level 6), ${mib} MiB / ${files} files, on ${loop ? "a fresh ext4 (loop)" : top}`);
  console.log(lines.join("\n"));
  console.log(`tar -xzf: median ${s(median(tarTimes))}; kiln apply from the registry: median ${s(median(kilnTimes))}; ratio ${(median(kilnTimes) / median(tarTimes)).toFixed(2)}x`);
} finally {
  await reg.stop();
  if (loop) Bun.spawnSync(["umount", top]);
  rmSync(outer, { recursive: true, force: true });
}
