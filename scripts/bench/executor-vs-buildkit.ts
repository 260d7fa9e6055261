// kiln's executor image against Docker BuildKit (issue 16), build + push to a loopback registry, interleaved rounds,
// each builder cold every round:
//   - BuildKit: the test suite's private dockerd (tests/support/docker.ts), `docker builder prune -af` and the
//     previous result removed before each round, `docker build --network host` + `docker push`;
//   - kiln: the executor image (scripts/images.sh with dist/kiln), unpacked once, copied to a fresh root for every
//     round and run as tests/support/container.ts runs it (new mount + PID namespaces, fresh /proc, chroot): it
//     builds in place on that temp root, never on the host's /.
// Both pull the same busybox base from the same registry. Prints per-round times, medians, kiln/BuildKit ratios,
// kiln's own stage/step summary (with --profile, its per-step debug split) and the load (`uptime`) around the run.
//
// Usage (as root; dist/kiln is compiled when missing, the images are built into a temp dir unless --images):
//   node_modules/.bin/bun scripts/bench/executor-vs-buildkit.ts [--rounds 3] [--workloads files10k,stages3]
//       [--images DIR] [--profile] [--keep-order] [--kiln-host]
// Workloads: files10k (RUN writes 10,000 files), stages3 (3 independent stages + a final one COPYing from each),
// files100k (RUN writes 100,000 files; not in the default set), overhead100k (the same RUN, then `RUN true` and a
// one-file RUN, built with --cleanup: kiln's own cost beyond that first RUN = its total minus the RUN's execute
// time from the -v debug split, which it always gets; not in the default set). Rounds alternate which builder
// goes first unless --keep-order (kiln first). --kiln-host adds a third builder to every round: dist/kiln on
// the host itself (--isolation isolated: own build roots, RUN in runc, stages in parallel), no executor image. runs20: 20 `RUN true` (per-RUN start-up; not in the default set). As root, everything works on a fresh ext4 on a loop device (support.ts).
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusybox } from "../../tests/support/base-images.ts";
import { startDocker } from "../../tests/support/docker.ts";
import { runContainer } from "../../tests/support/container.ts";
import { ensureBinary, REPO } from "../../tests/support/kiln.ts";
import { benchFileSystem, removeBenchFileSystem, median, sh } from "./support.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const rounds = Number(value("--rounds", "3"));
const profile = flag("--profile");

/** `files` files of a few bytes in 100 directories under /data, written by one awk (no process per file). */
const writeFiles = (files: number) =>
  `RUN awk 'BEGIN { for (d = 0; d < 100; d++) { system("mkdir -p /data/" d); for (f = 0; f < ${files / 100}; f++) { p = "/data/" d "/" f; print d "-" f > p; close(p) } } }'`;

const WORKLOADS: Record<string, (base: string) => string> = {
  files10k: (base) => `FROM ${base}\n${writeFiles(10_000)}\n`,
  files100k: (base) => `FROM ${base}\n${writeFiles(100_000)}\n`,
  // 20 RUNs that change nothing: what starting each RUN costs (in place, kiln's helper process per RUN).
  runs20: (base) => `FROM ${base}\n${"RUN true\n".repeat(20)}`,
  // The issue's snapshot-heavy case: a snapshot of 100,000 new files, a no-op RUN, a one-change RUN, root removal.
  overhead100k: (base) => `FROM ${base}\n${writeFiles(100_000)}\nRUN true\nRUN echo x > /data/0/0\n`,
  // Each stage: 1,000 small files and 4 MiB of random data, as a small compile step would leave behind.
  stages3: (base) => ["a", "b", "c"].map((s) => `FROM ${base} AS ${s}
RUN mkdir -p /out && awk 'BEGIN { for (f = 0; f < 1000; f++) { p = "/out/${s}" f; print f > p; close(p) } }' && head -c 4194304 /dev/urandom > /out/${s}.bin
`).join("") + `FROM ${base}
COPY --from=a /out /app/a
COPY --from=b /out /app/b
COPY --from=c /out /app/c
RUN ls /app > /app/listing
`,
};
/** Flags kiln gets for a workload besides the common ones. */
const KILN_FLAGS: Record<string, string[]> = { overhead100k: ["--cleanup", "-v", "debug"] };
const chosen = value("--workloads", "files10k,stages3").split(",");
for (const w of chosen) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w} (known: ${Object.keys(WORKLOADS).join(", ")})`);

/** From kiln's -v debug output: the first RUN's execute time and the root removal's (--cleanup), in seconds. */
function firstRunAndWipe(stderr: string): { run: number; wipe: number } {
  const run = /RUN awk.*\[.*execute ([\d.]+)s/.exec(stderr);
  const wipes = [...stderr.matchAll(/root wiped.*?ms\W+(\d+)/g)];
  if (!run || !wipes.length) throw new Error(`no RUN execute time or root removal time in kiln's output:\n${stderr.slice(-3000)}`);
  return { run: Number(run[1]), wipe: Number(wipes.at(-1)![1]) / 1000 };
}

const load = () => sh("uptime").trim();
const loads = [load()];
console.log(`start: ${loads[0]}`);

const outer = mkdtempSync(join(tmpdir(), "kiln-bench-exec-"));
const fsys = benchFileSystem(outer, 24, { inodeRatio: 4096 });
const top = fsys.dir;
if (fsys.loop) process.env.TMPDIR = top; // the private dockerd puts its data root under tmpdir()
const reg = await startRegistry();
const docker = await startDocker();
type Times = { kiln: number[]; docker: number[]; host: number[]; summaries: string[]; overhead: { run: number; wipe: number }[] };
const results: Record<string, Times> = {};

async function must(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string) {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  return r;
}

try {
  const base = await pushBusybox(reg);
  let images = value("--images", "");
  if (!images) {
    await ensureBinary();
    images = join(top, "images");
    sh(`bash ${REPO}/scripts/images.sh --out ${images}`);
  }
  const template = join(top, "executor-template");
  sh(`umoci unpack --image ${images}/executor:latest ${template}`);
  const config = JSON.parse(await Bun.file(join(template, "config.json")).text()) as { process: { env: string[]; args: string[] } };
  const env = config.process.env;

  for (const w of chosen) {
    const ctx = join(top, `ctx-${w}`);
    mkdirSync(ctx);
    writeFileSync(join(ctx, "Dockerfile"), WORKLOADS[w](base));
    results[w] = { kiln: [], docker: [], host: [], summaries: [], overhead: [] };
  }

  const runKiln = async (w: string, r: number) => {
    const root = join(top, `kiln-root-${w}-${r}`);
    cpSync(join(template, "rootfs"), root, { recursive: true, verbatimSymlinks: true });
    const t = performance.now();
    const out = await must(runContainer(root, join(top, `ctx-${w}`), env, [
      ...config.process.args, "--context", "dir:///workspace", "--destination", `${reg.host}/kiln-${w}:r${r}`,
      "--insecure", "--insecure-pull", "--log-format", "text", ...(KILN_FLAGS[w] ?? (profile ? ["-v", "debug"] : [])),
    ]), `kiln ${w}`);
    const s = (performance.now() - t) / 1000;
    results[w].kiln.push(s);
    if (w === "overhead100k") results[w].overhead.push(firstRunAndWipe(out.stderr));
    // The timings summary (stages, steps with -v debug, outputs, total): where kiln's own time went.
    results[w].summaries.push(out.stderr.split("\n").filter((l) => /Stage \d|^\S*\s+[\d.]+s  |Outputs|Build took|took|snapshot/i.test(l)).join("\n"));
    rmSync(root, { recursive: true, force: true });
    return s;
  };
  const runHost = async (w: string, r: number) => {
    const t = performance.now();
    const out = await must((async () => {
      const p = Bun.spawn([join(REPO, "dist/kiln"), "--isolation", "isolated", "--context", `dir://${join(top, `ctx-${w}`)}`,
        "--destination", `${reg.host}/kiln-host-${w}:r${r}`, "--insecure", "--insecure-pull", "--log-format", "text", ...(profile ? ["-v", "debug"] : [])],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, TMPDIR: top } });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    })(), `kiln on the host ${w}`);
    const s = (performance.now() - t) / 1000;
    results[w].host.push(s);
    if (profile) console.log(out.stderr.split("\n").filter((l) => /Stage \d|^\S*\s+[\d.]+s  |Outputs|Build took/.test(l)).join("\n"));
    return s;
  };
  const runDocker = async (w: string, r: number) => {
    await must(docker.run(["builder", "prune", "-af"]), "docker builder prune");
    for (const img of (await docker.run(["images", "-q"])).stdout.split("\n").filter(Boolean)) await docker.run(["rmi", "-f", img]);
    const ref = `${reg.host}/docker-${w}:r${r}`;
    const t = performance.now();
    await must(docker.run(["build", "--network", "host", "-q", "-t", ref, join(top, `ctx-${w}`)]), `docker build ${w}`);
    await must(docker.run(["push", "-q", ref]), `docker push ${w}`);
    const s = (performance.now() - t) / 1000;
    results[w].docker.push(s);
    return s;
  };

  for (let r = 0; r < rounds; r++) {
    for (const w of chosen) {
      const builders = [runKiln, runDocker, ...(flag("--kiln-host") ? [runHost] : [])];
      const order = !flag("--keep-order") && r % 2 ? builders.reverse() : builders;
      const took = [];
      for (const f of order) took.push(`${f === runKiln ? "kiln" : f === runHost ? "kiln on the host" : "buildkit"} ${(await f(w, r)).toFixed(2)} s`);
      console.log(`round ${r + 1} ${w}: ${took.join(", ")}  (${load().replace(/.*load/, "load")})`);
    }
  }
} finally {
  await docker.stop();
  await reg.stop();
  removeBenchFileSystem(fsys, outer);
}
loads.push(load());

console.log(`\n${rounds} rounds, ${new Date().toISOString()}\nload at start: ${loads[0]}\nload at end:   ${loads[1]}\n`);
const host = flag("--kiln-host");
console.log(`| workload | BuildKit median | kiln executor median | kiln / BuildKit |${host ? " kiln host median | host / BuildKit |" : ""}\n|---|---|---|---|${host ? "---|---|" : ""}`);
for (const [w, t] of Object.entries(results)) {
  const d = median(t.docker), k = median(t.kiln), h = host ? median(t.host) : 0;
  console.log(`| ${w} | ${d.toFixed(2)} s | ${k.toFixed(2)} s | ${(k / d).toFixed(2)}x |${host ? ` ${h.toFixed(2)} s | ${(h / d).toFixed(2)}x |` : ""}`);
}
for (const [w, t] of Object.entries(results)) {
  if (!t.overhead.length) continue;
  const own = t.kiln.map((k, i) => k - t.overhead[i].run);
  console.log(`\n${w}: kiln total ${t.kiln.map((x) => x.toFixed(2)).join(", ")} s; first RUN ${t.overhead.map((o) => o.run.toFixed(2)).join(", ")} s; ` +
    `own overhead (total - first RUN) ${own.map((x) => x.toFixed(2)).join(", ")} s, median ${median(own).toFixed(2)} s; ` +
    `root removal ${t.overhead.map((o) => o.wipe.toFixed(2)).join(", ")} s`);
}
for (const [w, t] of Object.entries(results)) {
  console.log(`\n${w} per round: BuildKit ${t.docker.map((x) => x.toFixed(2)).join(", ")}; kiln ${t.kiln.map((x) => x.toFixed(2)).join(", ")}` +
    (t.host.length ? `; kiln on the host ${t.host.map((x) => x.toFixed(2)).join(", ")}` : ""));
  console.log(`kiln's summary (last round):\n${t.summaries.at(-1)}`);
}
