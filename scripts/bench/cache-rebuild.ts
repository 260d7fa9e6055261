// Issue 13's benchmark: a fully cached rebuild of (busybox base, a RUN writing 10,000 files, a COPY, a RUN) pushed
// to a loopback registry, by kiln (the compiled binary, and the executor image in a namespace sandbox), Docker
// BuildKit (a private dockerd) and buildah, side by side in one run, builders interleaved within each round. Each
// round starts every builder cold (empty cache repository / pruned build cache and images), times its first build,
// then the rebuild of the same context (wall time of the whole command, push included).
//
//   npm run build && bash scripts/images.sh --out /tmp/bench-images   # the executor image (optional)
//   node_modules/.bin/bun scripts/bench/cache-rebuild.ts [ROUNDS]        # as root
//
// KILN_BENCH_IMAGES=DIR names the images' directory (default dist/images); without its executor layout the
// executor row is skipped. KILN_BENCH_BINARY=FILE measures another build of kiln than dist/kiln;
// KILN_BENCH_ALT="label=FILE" adds a second kiln binary beside it. KILN_BENCH_ONLY=a,b limits the builders
// (kiln, kiln-nocopy, kiln-nocache, executor, docker, buildah).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../tests/support/registry.ts";
import { pushBusybox } from "../../tests/support/base-images.ts";
import { startDocker, type TestDocker } from "../../tests/support/docker.ts";
import { cleanupInspected, inspectOciLayout } from "../../tests/support/image-assert.ts";
import { BINARY, REPO } from "../../tests/support/kiln.ts";
import { median, seconds } from "./support.ts";

const rounds = Number(Bun.argv[2] ?? 5);
if (process.getuid?.() !== 0) throw new Error("cache-rebuild: run as root (dockerd, buildah and the executor's namespaces need it)");
if (!existsSync(BINARY)) throw new Error(`cache-rebuild: ${BINARY} is missing: run 'npm run build'`);
const only = process.env.KILN_BENCH_ONLY?.split(",");
const wanted = (name: string) => !only || only.includes(name);

interface Timed { ms: number; stdout: string; stderr: string; startedAt: number }

async function timed(argv: string[], o: { env?: Record<string, string>; cwd?: string } = {}): Promise<Timed> {
  const startedAt = Date.now();
  const t = performance.now();
  const p = Bun.spawn(argv, { cwd: o.cwd, env: o.env ?? { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const ms = performance.now() - t;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}:\n${stderr.slice(-3000)}`);
  return { ms, stdout, stderr, startedAt };
}

const work = mkdtempSync(join(tmpdir(), "kiln-cache-bench-"));
// A copy: other work on the machine may rebuild dist/kiln while the rounds run.
const kiln = join(work, "kiln");
if (Bun.spawnSync(["cp", process.env.KILN_BENCH_BINARY ?? BINARY, kiln]).exitCode !== 0) throw new Error(`copying ${BINARY} failed`);
const reg = await startRegistry();
const cleanups: (() => Promise<void> | void)[] = [() => reg.stop(), () => rmSync(work, { recursive: true, force: true })];
const base = await pushBusybox(reg);

const ctx = join(work, "ctx");
mkdirSync(ctx);
writeFileSync(join(ctx, "app.txt"), "the application\n".repeat(64));
writeFileSync(join(ctx, "Dockerfile"), [
  `FROM ${base}`,
  "RUN mkdir /many && cd /many && i=0 && while [ $i -lt 10000 ]; do echo $i > f$i; i=$((i+1)); done",
  "COPY app.txt /app/app.txt",
  "RUN wc -c /app/app.txt > /app/size",
  "",
].join("\n"));

/** What kiln's `-v debug --log-format json` tells about a build: the cache line and the push of the destination. */
interface KilnSplit { firstLineMs: number; keyMs: number; probeMs: number; probes: number; hits: number; pushMs: number; afterPushMs: number }

function kilnSplit(r: Timed, dest: string): KilnSplit {
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; time: string; pushMs?: number });
  const cache = lines.find((l) => l.msg.startsWith("cache: "));
  const push = lines.find((l) => l.msg === `push of ${dest} done`);
  const m = cache && /keys ([\d.]+) ms, probes ([\d.]+) ms \((\d+) probes, (\d+) hits\)/.exec(cache.msg);
  if (!m || !push || !lines.length) throw new Error(`no cache or push timing in kiln's output:\n${r.stderr.slice(-2000)}`);
  return {
    firstLineMs: Date.parse(lines[0].time) - r.startedAt,
    keyMs: Number(m[1]), probeMs: Number(m[2]), probes: Number(m[3]), hits: Number(m[4]),
    pushMs: push.pushMs ?? NaN,
    afterPushMs: r.startedAt + r.ms - Date.parse(push.time),
  };
}

interface Builder {
  name: string;
  what: string;
  /** Puts the builder back to cold (untimed). */
  reset(round: number): Promise<void>;
  /** One build of ctx pushed to the registry (timed by the caller); `phase` picks the destination's tag. */
  build(round: number, phase: "first" | "rebuild"): Promise<{ ms: number; parts?: Record<string, number>; split?: KilnSplit }>;
  /** false: only the first build is measured. */
  rebuilds: boolean;
}

const kilnFlags = ["--insecure", "--insecure-pull", "-v", "debug", "--log-format", "json"];

function kilnBinary(name: string, what: string, cacheFlags: string[] | undefined, binary = kiln): Builder {
  const dest = (round: number) => `${reg.host}/${name}-${round}:t`;
  return {
    name, what, rebuilds: cacheFlags !== undefined,
    async reset() {},
    async build(round) {
      const cache = cacheFlags ? ["--cache", "--cache-repo", `${reg.host}/${name}-${round}/cache`, ...cacheFlags] : [];
      const r = await timed([binary, "--context", ctx, "--destination", dest(round), ...kilnFlags, ...cache]);
      return { ms: r.ms, ...(cacheFlags ? { split: kilnSplit(r, dest(round)) } : {}) };
    },
  };
}

// As a cluster runs the executor image: its root unpacked fresh for every build (a new pod), new mount and PID
// namespaces, its own /proc, a tmpfs /dev with a few nodes, read-only sysfs, the context at /workspace, chroot.
// The in-place build inside wipes and unpacks over that root only.
const CONTAINER_SH = `set -e
R=$1; C=$2; shift 2
mount --bind "$R" "$R"
mkdir -p "$R/proc" "$R/dev" "$R/sys" "$R/workspace"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do IFS=: read -r d a b <<EOF
$n
EOF
mknod -m 666 "$R/dev/$d" c "$a" "$b"; done
mount -t sysfs -o ro sysfs "$R/sys"
mount --bind "$C" "$R/workspace"
exec /usr/bin/env -i "$@"`;

async function executorImage(layoutDir: string): Promise<Builder> {
  const img = await inspectOciLayout(layoutDir, "latest");
  cleanups.push(() => cleanupInspected(img));
  const env: string[] = img.config.config.Env;
  const entry: string[] = img.config.config.Entrypoint;
  const dest = (round: number) => `${reg.host}/executor-${round}:t`;
  let n = 0;
  return {
    name: "executor", what: "kiln's executor image (in-place, namespace sandbox), --cache --cache-copy-layers", rebuilds: true,
    async reset() {},
    async build(round) {
      const root = join(work, `executor-root-${++n}`);
      if (Bun.spawnSync(["cp", "-a", img.rootfsDir, root]).exitCode !== 0) throw new Error(`copying the executor's root to ${root} failed`);
      try {
        const r = await timed(["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "sh", "-c", CONTAINER_SH, "sh", root, ctx,
          ...env, "/usr/sbin/chroot", root, ...entry, "--context", "dir:///workspace", "--destination", dest(round), ...kilnFlags,
          "--cache", "--cache-repo", `${reg.host}/executor-${round}/cache`, "--cache-copy-layers"]);
        return { ms: r.ms, split: kilnSplit(r, dest(round)) };
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

async function dockerBuildKit(d: TestDocker): Promise<Builder> {
  const run = (args: string[]) => timed(["/usr/bin/docker", ...args], { env: d.env });
  const dest = (round: number) => `${reg.host}/docker-${round}:t`;
  return {
    name: "docker", what: "Docker 20.10 BuildKit (docker build, its local cache; then docker push)", rebuilds: true,
    async reset() {
      await run(["builder", "prune", "-af"]);
      await run(["image", "prune", "-af"]);
      const ids = (await run(["images", "-aq"])).stdout.trim();
      if (ids) await run(["rmi", "-f", ...new Set(ids.split("\n"))]);
    },
    async build(round) {
      const b = await run(["build", "-q", "--network", "host", "-t", dest(round), ctx]);
      const p = await run(["push", dest(round)]);
      return { ms: b.ms + p.ms, parts: { build: b.ms, push: p.ms } };
    },
  };
}

function buildah(): Builder {
  const store = join(work, "buildah");
  const g = ["--root", join(store, "root"), "--runroot", join(store, "run"), "--storage-driver", "overlay"];
  const run = (args: string[]) => timed(["buildah", ...g, ...args]);
  const dest = (round: number) => `${reg.host}/buildah-${round}:t`;
  return {
    name: "buildah", what: "buildah bud --layers --isolation chroot (overlay storage; then buildah push)", rebuilds: true,
    async reset() {
      await run(["rmi", "-af"]).catch(() => undefined);
    },
    async build(round) {
      const b = await run(["bud", "-q", "--layers", "--isolation", "chroot", "--tls-verify=false", "-t", dest(round), ctx]);
      const p = await run(["push", "-q", "--tls-verify=false", dest(round)]);
      return { ms: b.ms + p.ms, parts: { build: b.ms, push: p.ms } };
    },
  };
}

const builders: Builder[] = [];
if (wanted("kiln")) builders.push(kilnBinary("kiln", "kiln binary, --cache --cache-copy-layers", ["--cache-copy-layers"]));
if (wanted("kiln-nocopy")) builders.push(kilnBinary("kiln-nocopy", "kiln binary, --cache (kaniko's default: COPY not cached)", []));
// Another build of kiln beside dist/kiln, to compare a change side by side: KILN_BENCH_ALT="label=/path/to/kiln".
const alt = process.env.KILN_BENCH_ALT?.match(/^([^=]+)=(.+)$/);
const altBinary = join(work, "kiln-alt");
if (alt) {
  if (Bun.spawnSync(["cp", alt[2], altBinary]).exitCode !== 0) throw new Error(`copying ${alt[2]} failed`);
  builders.push(kilnBinary("kiln-alt", `kiln binary (${alt[1]}), --cache --cache-copy-layers`, ["--cache-copy-layers"], altBinary));
}
if (wanted("kiln-nocache")) builders.push(kilnBinary("kiln-nocache", "kiln binary, no --cache (first build only)", undefined));
const imagesDir = process.env.KILN_BENCH_IMAGES ?? join(REPO, "dist/images");
if (wanted("executor")) {
  if (existsSync(join(imagesDir, "executor/index.json"))) builders.push(await executorImage(join(imagesDir, "executor")));
  else console.log(`executor image: not measured (${imagesDir}/executor missing: run scripts/images.sh)`);
}
if (wanted("docker")) {
  const d = await startDocker();
  cleanups.unshift(() => d.stop());
  builders.push(await dockerBuildKit(d));
}
if (wanted("buildah")) builders.push(buildah());

type Row = { first: number[]; rebuild: number[]; parts: Record<string, number[]>; splits: KilnSplit[] };
const rows = new Map<string, Row>(builders.map((b) => [b.name, { first: [], rebuild: [], parts: {}, splits: [] }]));
const startup: number[] = [];
const altStartup: number[] = [];
const loads: string[] = [];

try {
  for (let round = 1; round <= rounds; round++) {
    loads.push((await Bun.file("/proc/loadavg").text()).split(" ")[0]);
    startup.push((await timed([kiln, "version"])).ms);
    if (alt) altStartup.push((await timed([altBinary, "version"])).ms);
    // Rotate the order so no builder always runs right after the same other one.
    const order = builders.map((_, i) => builders[(i + round) % builders.length]);
    for (const b of order) {
      const row = rows.get(b.name)!;
      await b.reset(round);
      row.first.push((await b.build(round, "first")).ms);
      if (!b.rebuilds) continue;
      const r = await b.build(round, "rebuild");
      row.rebuild.push(r.ms);
      for (const [k, v] of Object.entries(r.parts ?? {})) (row.parts[k] ??= []).push(v);
      if (r.split) row.splits.push(r.split);
    }
    console.log(`round ${round}/${rounds}: ${builders.map((b) => `${b.name} ${seconds(rows.get(b.name)!.rebuild.at(-1) ?? rows.get(b.name)!.first.at(-1)!)}`).join(", ")}`);
  }
} finally {
  for (const c of cleanups) await c();
}

const fmt = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(", ");
console.log(`\n${rounds} rounds, ${new Date().toISOString()}, load at round starts: ${loads.join(", ")}`);
console.log("\n| builder | first build (median) | fully cached rebuild: times (s) | median | vs kiln binary |");
console.log("|---|---|---|---|---|");
const kilnMedian = median(rows.get("kiln")?.rebuild ?? [NaN]);
for (const b of builders) {
  const r = rows.get(b.name)!;
  const reb = r.rebuild.length ? median(r.rebuild) : NaN;
  const parts = Object.entries(r.parts).map(([k, v]) => `${k} ${seconds(median(v))}`).join(" + ");
  console.log(`| ${b.what} | ${seconds(median(r.first))} | ${r.rebuild.length ? fmt(r.rebuild) : "-"} | ${r.rebuild.length ? `**${seconds(reb)}**${parts ? ` (${parts})` : ""}` : "-"} | ${r.rebuild.length ? `${(reb / kilnMedian).toFixed(2)}×` : "-"} |`);
}
const nocache = rows.get("kiln-nocache")?.first;
for (const name of ["kiln", "kiln-nocopy"]) {
  const with_ = rows.get(name)?.first;
  if (nocache?.length && with_?.length) {
    console.log(`\nfirst build, ${name} vs no --cache: ${seconds(median(with_))} vs ${seconds(median(nocache))} (${(((median(with_) / median(nocache)) - 1) * 100).toFixed(1)}%); times ${fmt(with_)} vs ${fmt(nocache)}`);
  }
}
console.log(`\nkiln version (process start-up): median ${(median(startup)).toFixed(0)} ms (${startup.map((x) => x.toFixed(0)).join(", ")})`);
if (alt) console.log(`${alt[1]} version: median ${median(altStartup).toFixed(0)} ms (${altStartup.map((x) => x.toFixed(0)).join(", ")})`);
for (const b of builders) {
  const s = rows.get(b.name)!.splits;
  if (!s.length) continue;
  const med = (f: (x: KilnSplit) => number) => median(s.map(f)).toFixed(1);
  console.log(`${b.name} rebuild split (medians, ms): start to first log line ${med((x) => x.firstLineMs)}, keys ${med((x) => x.keyMs)}, probes ${med((x) => x.probeMs)} (${s[0].probes} probes, ${s[0].hits} hits), push ${med((x) => x.pushMs)}, push to exit ${med((x) => x.afterPushMs)}, total ${median(rows.get(b.name)!.rebuild).toFixed(0)}`);
}
