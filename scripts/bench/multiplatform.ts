// Issue 17's benchmark: one `--platform linux/amd64,linux/arm64` build against the two single-platform builds
// (`--custom-platform linux/amd64`, then `--custom-platform linux/arm64`) run one after the other, of the same
// cross-compilation Dockerfile: a FROM --platform=$BUILDPLATFORM stage doing native work (shared by the two
// platforms in the multi-platform build, done twice by the single builds), and a final stage whose RUN runs for
// its platform (under qemu for arm64). Wall time of the whole command, --no-push with an OCI layout output; the
// two ways alternate within each round, and the load average is printed before and after.
//
//   node_modules/.bin/bun scripts/bench/multiplatform.ts [ROUNDS]     # as root; registers arm64 emulation
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusyboxIndex } from "../../tests/support/base-images.ts";
import { ensureArm64Emulation } from "../../tests/support/binfmt.ts";
import { REPO } from "../../tests/support/kiln.ts";
import { median, seconds } from "./support.ts";

const rounds = Number(Bun.argv[2] ?? 3);
const why = ensureArm64Emulation();
if (why) throw new Error(`multiplatform: ${why}`);

const work = mkdtempSync(join(tmpdir(), "kiln-mp-bench-"));
const reg = await startRegistry();
try {
  const base = await pushBusyboxIndex(reg);
  const ctx = join(work, "ctx");
  Bun.spawnSync(["mkdir", "-p", ctx]);
  // The native stage: 3,000 files written by a shell loop; the final stage: a loop of 300 process starts, which
  // under emulation is where qemu's cost shows.
  writeFileSync(join(ctx, "Dockerfile"), [
    `FROM --platform=$BUILDPLATFORM ${base} AS tools`,
    `RUN mkdir /out && i=0; while [ $i -lt 3000 ]; do echo "file $i" > /out/f$i; i=$((i+1)); done`,
    `FROM ${base}`,
    `COPY --from=tools /out /out`,
    `RUN i=0; while [ $i -lt 300 ]; do uname -m > /arch; i=$((i+1)); done`,
    "",
  ].join("\n"));

  const kiln = async (args: string[]): Promise<number> => {
    const out = mkdtempSync(join(work, "out-"));
    const t = performance.now();
    const p = Bun.spawn([process.execPath, join(REPO, "cli/main.ts"), "-c", ctx, "--no-push", "--insecure-pull", "--oci-layout-path", join(out, "layout"), ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", TMPDIR: work }, stdout: "pipe", stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited, new Response(p.stdout).text()]);
    const ms = performance.now() - t;
    if (code !== 0) throw new Error(`kiln ${args.join(" ")} exited ${code}:\n${stderr.slice(-2000)}`);
    rmSync(out, { recursive: true, force: true });
    return ms;
  };
  const multi = () => kiln(["--platform", "linux/amd64,linux/arm64"]);
  const singles = async () => (await kiln(["--custom-platform", "linux/amd64"])) + (await kiln(["--custom-platform", "linux/arm64"]));

  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`load before: ${load()} (${navigator.hardwareConcurrency} CPUs)`);
  await multi(); // warm: base blobs, page cache
  const times = { multi: [] as number[], singles: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so drift in the machine's load falls on both alike.
    const order = r % 2 ? (["singles", "multi"] as const) : (["multi", "singles"] as const);
    for (const which of order) times[which].push(which === "multi" ? await multi() : await singles());
    console.log(`round ${r + 1}: multi ${seconds(times.multi[r])}, singles ${seconds(times.singles[r])} (load ${load()})`);
  }
  console.log(`median of ${rounds}: --platform linux/amd64,linux/arm64 ${seconds(median(times.multi))}; two single-platform builds one after the other ${seconds(median(times.singles))}`);
  console.log(`load after: ${load()}`);
} finally {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
