// Peak memory of a build whose RUN writes a 2 GiB file (one 2 GiB layer): kiln's own process
// (VmHWM of the CLI, compiled binary), sampled from /proc until it exits. Goal: under 300 MiB.
// Usage: bun scripts/bench/snapshot-memory.ts [MiB=2048] [compression=gzip]
// KILN_BIN=<compiled kiln> measures another build (an older commit's) instead of dist/kiln.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusybox } from "../../tests/support/base-images.ts";
import { ensureBinary } from "../../tests/support/kiln.ts";

const mib = Number(process.argv[2] ?? 2048);
const compression = process.argv[3] ?? "gzip";
const reg = await startRegistry();
const top = mkdtempSync(join(tmpdir(), "kiln-bench-mem-"));
try {
  const base = await pushBusybox(reg);
  const ctx = join(top, "ctx");
  // Text-like bytes: compressible, but not trivially (a counter on every line).
  await Bun.write(join(ctx, "Dockerfile"), `FROM ${base}\nRUN seq 1 400000000 | head -c ${mib * 1024 * 1024} > /big\n`);
  const kiln = process.env.KILN_BIN ?? (await ensureBinary());
  const t = performance.now();
  const p = Bun.spawn([kiln, "-c", ctx, "--no-push", "--insecure-pull", "--kaniko-dir", join(top, "work"), "--compression", compression,
    "--oci-layout-path", join(top, "layout")], { stdout: "ignore", stderr: "pipe" });
  let hwm = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"));
      if (m) hwm = Math.max(hwm, Number(m[1]));
    } catch { /* exited */ }
  }, 50);
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  clearInterval(poll);
  if (code !== 0) throw new Error(`kiln failed (${code}): ${err.slice(-2000)}`);
  const layerSizes = JSON.parse(readFileSync(join(top, "layout", "blobs", "sha256",
    JSON.parse(readFileSync(join(top, "layout", "index.json"), "utf8")).manifests[0].digest.slice(7)), "utf8")).layers.map((l: any) => l.size);
  console.log(`${mib} MiB file, ${compression}: build ${((performance.now() - t) / 1000).toFixed(1)} s, kiln peak RSS (VmHWM) ${(hwm / 1024).toFixed(0)} MiB, layer blob ${(layerSizes.at(-1) / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await reg.stop();
  rmSync(top, { recursive: true, force: true });
}
