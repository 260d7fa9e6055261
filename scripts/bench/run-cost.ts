// The fixed cost of one isolated RUN: `RUN true` in a busybox root, N times, through the sandbox's own entry
// point (no snapshot, no layer). Compare two checkouts by running this file from each:
//   bun scripts/bench/run-cost.ts [N] [SELF_BINARY]
// SELF_BINARY is the compiled kiln of the same checkout (the isolated mode of old versions re-ran kiln itself).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { runIsolated } from "../../lib/sandbox/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { median } from "./support.ts";

const n = Number(process.argv[2] ?? 30);
const self = process.argv[3] ? [resolve(process.argv[3])] : [process.execPath, resolve(import.meta.dir, "../../cli/main.ts")];
const dir = mkdtempSync("/var/tmp/kiln-run-cost-");
const root = join(dir, "root");
mkdirSync(join(root, "bin"), { recursive: true });
mkdirSync(join(root, "etc"));
chmodSync(root, 0o755);
copyFileSync("/bin/busybox", join(root, "bin/busybox"));
symlinkSync("busybox", join(root, "bin/sh"));
symlinkSync("busybox", join(root, "bin/true"));
const times: number[] = [];
try {
  for (let i = 0; i < n + 2; i++) {
    const t0 = performance.now();
    const code = await runIsolated(
      { root, argv: ["/bin/sh", "-c", "true"], env: ["PATH=/bin"], cwd: "/", uid: 0, gid: 0, groups: [] },
      { selfCommand: self, runtimeDir: join(dir, "runc"), logger: silentLogger },
    );
    if (code !== 0) throw new Error(`RUN true exited ${code}`);
    if (i >= 2) times.push(performance.now() - t0); // the first two warm the page cache
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`RUN true x${n}: median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`);
