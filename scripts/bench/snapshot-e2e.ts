// End-to-end snapshot workload, kiln against Docker BuildKit and `buildah --isolation chroot` in the
// same run: FROM busybox (from a local registry), a RUN that writes 100,000 small files, a RUN that
// changes nothing, a RUN that changes one file. Each builder's base image is pulled before timing;
// kiln (compiled binary) pulls its tiny base itself and writes no output (--no-push), docker and
// buildah store the result in their own image stores. kiln's per-step snapshot timings come from its
// debug log. As root, every builder works on one fresh ext4 file system on a loop device
// (KILN_BENCH_LOOP=0: the temp dir's own), so no builder pays for inodes another run freed minutes
// ago (ext4 skips recently freed inodes when it allocates; see snapshot-apply.ts).
// Usage: bun scripts/bench/snapshot-e2e.ts [runs=1]
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusybox } from "../../tests/support/base-images.ts";
import { startDocker } from "../../tests/support/docker.ts";
import { ensureBinary } from "../../tests/support/kiln.ts";
import { benchFileSystem, removeBenchFileSystem } from "./support.ts";

const runs = Number(process.argv[2] ?? 1);
const reg = await startRegistry();
const outer = mkdtempSync(join(tmpdir(), "kiln-bench-e2e-"));
// Three builders x 100,000 files per run: small files, so many inodes.
const fsys = benchFileSystem(outer, 16, { inodeRatio: 4096 });
const top = fsys.dir;
if (fsys.loop) process.env.TMPDIR = top; // the private dockerd puts its data root under tmpdir()
const docker = await startDocker();
const results: Record<string, number[]> = { kiln: [], docker: [], buildah: [] };
const kilnPhases: string[] = [];

async function sh(cmd: string[], env?: Record<string, string>): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } as Record<string, string> });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}:\n${err.slice(-2000)}`);
  return out + err;
}

async function timed(name: string, cmd: string[], env?: Record<string, string>): Promise<string> {
  const t = performance.now();
  const out = await sh(cmd, env);
  results[name].push((performance.now() - t) / 1000);
  console.log(`${name}: ${results[name].at(-1)!.toFixed(1)} s`);
  return out;
}

try {
  const base = await pushBusybox(reg);
  const ctx = join(top, "ctx");
  await Bun.write(join(ctx, "Dockerfile"), `FROM ${base}
RUN awk 'BEGIN { for (d = 0; d < 100; d++) { system("mkdir -p /data/" d); for (f = 0; f < 1000; f++) { p = "/data/" d "/" f; print d "-" f > p; close(p) } } }'
RUN true
RUN echo changed > /data/7/7
`);
  const kiln = await ensureBinary();
  await docker.run(["pull", base]);
  const bRoot = join(top, "buildah");
  const buildah = ["buildah", "--root", join(bRoot, "root"), "--runroot", join(bRoot, "run"), "--storage-driver", "overlay"];
  await sh([...buildah, "pull", "--tls-verify=false", `docker://${base}`]);
  for (let r = 0; r < runs; r++) {
    const work = join(top, `kiln-${r}`);
    const log = await timed("kiln", [kiln, "-c", ctx, "--no-push", "--insecure-pull", "--kaniko-dir", work, "-v", "debug", "--log-format", "text"]);
    kilnPhases.push(...log.split("\n").filter((l) => /snapshot|baseline/.test(l)));
    console.log(kilnPhases.join("\n"));
    const t = performance.now();
    const d = await docker.run(["build", "--no-cache", "--network", "host", "-q", "-t", `bench:${r}`, ctx]);
    results.docker.push((performance.now() - t) / 1000);
    console.log(`docker: ${results.docker.at(-1)!.toFixed(1)} s`);
    if (d.code !== 0) throw new Error(`docker build failed: ${d.stderr}`);
    await timed("buildah", [...buildah, "bud", "--isolation", "chroot", "--tls-verify=false", "--no-cache", "-q", "-t", `bench:${r}`, ctx]);
  }
} finally {
  await docker.stop();
  await reg.stop();
  removeBenchFileSystem(fsys, outer);
}
const fmt = (xs: number[]) => xs.map((x) => `${x.toFixed(1)} s`).join(", ");
for (const [k, v] of Object.entries(results)) console.log(`${k}: ${fmt(v)}`);
console.log("kiln snapshot log:\n" + kilnPhases.join("\n"));
