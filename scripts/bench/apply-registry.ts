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
import { benchFileSystem, median, seconds as s, sh, timedTarExtract, writeTextTree } from "./support.ts";

const mib = Number(process.argv[2] ?? 500);
const files = Number(process.argv[3] ?? 20_000);
const runs = Number(process.argv[4] ?? 4);
const outer = mkdtempSync(join(tmpdir(), "kiln-bench-apply-reg-"));
const reg = await startRegistry();
const fsys = benchFileSystem(outer, (mib * (runs * 2 + 4)) / 1024 + 2);
const top = fsys.dir;
try {
  const kiln = await ensureBinary();
  const base = await pushBusybox(reg);
  const ctx = join(top, "ctx");
  writeTextTree(join(ctx, "src"), mib, files);
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
  const tarRun = (r: number) => {
    const t = timedTarExtract(blob, join(top, `tar${r}`));
    tarTimes.push(t.ms);
    lines.push(`tar ${s(t.ms)} (user ${t.user} s, sys ${t.sys} s)`);
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
  console.log(`layer ${(Bun.file(blob).size / 2 ** 20).toFixed(0)} MiB gzip (kiln-built, level 6), ${mib} MiB / ${files} files, on ${fsys.loop ? "a fresh ext4 (loop)" : top}`);
  console.log(lines.join("\n"));
  console.log(`tar -xzf: median ${s(median(tarTimes))}; kiln apply from the registry: median ${s(median(kilnTimes))}; ratio ${(median(kilnTimes) / median(tarTimes)).toFixed(2)}x`);
} finally {
  await reg.stop();
  fsys.close();
  rmSync(outer, { recursive: true, force: true });
}
