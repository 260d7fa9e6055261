// The build log as a CI user reads it: no TTY (so no escape codes), one line per RUN and per push, RUN output in
// the order it happened, a timing summary, BENCHMARK_FILE; JSON lines with --log-format json; -v trace detail.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { makeContext, REPO, runKiln } from "../support/kiln.ts";

const fx = useBusyboxRegistry();

const ESC = "\x1b[";

// A reader slower than kiln writes, as a log collector can be: the pipe fills, and writes that were queued
// (process.stdout.write) went out after later log lines.
const SLOW_READER = `python3 -c "
import sys, time
while True:
    b = sys.stdin.buffer.read1(8192)
    if not b: break
    sys.stdout.buffer.write(b)
    time.sleep(0.002)"`;

/** kiln from source with stdout and stderr on one pipe, as `docker run` or a CI runner shows them. */
async function runMerged(args: string[], env: Record<string, string> = {}, slow = false): Promise<{ code: number; out: string }> {
  const script = slow ? `"$@" 2>&1 | ${SLOW_READER}` : 'exec "$@" 2>&1';
  const p = Bun.spawn(["/bin/sh", "-c", script, "sh", process.execPath, join(REPO, "cli/main.ts"), ...args], {
    cwd: REPO, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env }, stdout: "pipe", stderr: "inherit",
  });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { code, out };
}

const dockerfile = () => `FROM ${fx.base}
RUN echo run-output-line
RUN echo second > /second
`;

describe("text log on a pipe", () => {
  test("no escape codes, one line per RUN and per push, RUN output before the push, a timing summary", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
    const dest = `${fx.reg.host}/log-text:1`;
    const { code, out } = await runMerged(["-c", ctx, "-d", dest, "--insecure", "--insecure-pull"]);
    expect(code, out).toBe(0);
    expect(out).not.toContain(ESC);
    const lines = out.split("\n");
    expect(lines.filter((l) => l.includes("echo run-output-line"))).toEqual(["INFO  RUN echo run-output-line"]);
    expect(lines.filter((l) => l.includes("/bin/sh"))).toEqual([]);
    expect(lines.filter((l) => l.includes("Pushed"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("Pushed"))[0]).toContain(dest);
    const output = lines.indexOf("run-output-line");
    expect(output).toBeGreaterThan(lines.indexOf("INFO  RUN echo run-output-line"));
    expect(output).toBeLessThan(lines.findIndex((l) => l.includes("Pushing image")));
    // The summary: each stage, the outputs, the total; then the digest.
    const stage = lines.findIndex((l) => /^INFO {2}Stage 0: \d+\.\d\ds, 2 steps$/.test(l));
    expect(stage, out).toBeGreaterThan(output);
    expect(lines.some((l) => /^INFO {2}Outputs \(push, files\): \d+\.\d\ds$/.test(l))).toBe(true);
    const total = lines.findIndex((l) => /^INFO {2}Build took \d+\.\d\ds$/.test(l));
    expect(total).toBeGreaterThan(stage);
    expect(lines.findIndex((l) => l.startsWith("INFO  Built image sha256:"))).toBeGreaterThan(total);
  }, 120_000);

  test("RUN output stays before later log lines when the reader is slow", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN head -c 3000000 /dev/zero | tr '\\0' x; echo; echo END-OF-RUN\n` }));
    const { code, out } = await runMerged(["-c", ctx, "--no-push", "--insecure-pull", "--log-format", "text"], {}, true);
    expect(code, out.slice(-2000)).toBe(0);
    const lines = out.split("\n");
    const end = lines.indexOf("END-OF-RUN");
    expect(end).toBeGreaterThan(0);
    // Old code wrote these after END-OF-RUN, or lost them at exit while they were still queued.
    expect(lines.findIndex((l) => l.startsWith("INFO  Built image"))).toBeGreaterThan(end);
    expect(lines.findIndex((l) => l.startsWith("INFO  Build took"))).toBeGreaterThan(end);
  }, 120_000);

  test("per-step timings at debug; -v trace adds each registry request and each step's layer", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
    const debug = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "-v", "debug"]);
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stderr).toMatch(/^DEBUG +\d+\.\d\ds {2}RUN echo second > \/second(  \[[a-z]+ \d+\.\d\ds(, [a-z]+ \d+\.\d\ds)*\])?$/m);
    // The split of an executed RUN: at least its execution (walk and layer when they took a millisecond or more).
    expect(debug.stderr).toMatch(/^DEBUG .*RUN echo second > \/second  \[.*execute \d+\.\d\ds/m);
    expect(debug.stderr).toContain(`DEBUG Cmd: ["/bin/sh","-c","echo run-output-line"]`);
    expect(debug.stderr).not.toContain("TRACE");
    const trace = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "-v", "trace"]);
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stderr).toMatch(new RegExp(`^TRACE GET http://${fx.reg.host}/v2/busybox/manifests/latest 200 ms=\\d+$`, "m"));
    expect(trace.stderr).toMatch(/^TRACE step done: RUN echo second > \/second ms=[\d.]+ cached=false layer=sha256:[0-9a-f]{64} bytes=\d+$/m);
  }, 120_000);

  test("--log-format color colours even on a pipe; NO_COLOR does not override it", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: "FROM scratch\nENV A=1\n" }));
    const r = await runKiln(["-c", ctx, "--no-push", "--log-format", "color"], { env: { NO_COLOR: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${ESC}36mINFO`);
  }, 60_000);
});

test("--log-format json: every log line is a JSON object, the summary included", async () => {
  const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
  const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--log-format", "json"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe("run-output-line\n");
  const events = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
  expect(events.filter((e) => e.msg === "RUN echo run-output-line")).toHaveLength(1);
  expect(events.find((e) => /^Build took \d+\.\d\ds$/.test(e.msg))).toMatchObject({ level: "info" });
  expect(events.at(-1).msg).toStartWith("Built image sha256:");
}, 120_000);

test("a failed build logs its timing summary too", async () => {
  const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo ok\nRUN exit 3\n` }));
  const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull", "--log-format", "text"]);
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/^INFO +Stage 0: \d+\.\d\ds, 1 step$/m);
  expect(r.stderr).toMatch(/^INFO +Build took \d+\.\d\ds$/m);
}, 120_000);

test("BENCHMARK_FILE receives the timings as JSON", async () => {
  const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${fx.base} AS base\nRUN true\nFROM base\nRUN echo x > /x\nENV B=1\n` }));
  const file = join(fx.tmp(), "bench.json");
  const r = await runKiln(["-c", ctx, "--no-push", "--insecure-pull"], { env: { BENCHMARK_FILE: file } });
  expect(r.code, r.stderr).toBe(0);
  const t = JSON.parse(readFileSync(file, "utf8"));
  expect(t.totalMs).toBeGreaterThan(0);
  // An executed RUN carries its split: expansion, execution, the snapshot's walk and the layer write.
  const run = t.stages[1].steps[0];
  for (const part of ["expandMs", "executeMs", "walkMs", "writeMs"]) expect(typeof run[part]).toBe("number");
  expect(t.stages.map((s: any) => [s.index, s.name, s.steps.map((st: any) => [st.instruction, st.cached])])).toEqual([
    [0, "base", [["RUN true", false]]],
    [1, undefined, [["RUN echo x > /x", false], ["ENV B=1", false]]],
  ]);
  const off = join(fx.tmp(), "off.json");
  expect((await runKiln(["-c", ctx, "--no-push", "--insecure-pull"], { env: { BENCHMARK_FILE: "false" }, cwd: join(off, "..") })).code).toBe(0);
  expect(existsSync(join(off, "..", "false"))).toBe(false);
}, 120_000);

describe("kaniko's flags", () => {
  const twoStages = "FROM scratch AS unused\nENV U=1\nFROM scratch\nENV A=1\n";

  test("--skip-unused-stages=false builds every stage before the target, as kaniko does", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: twoStages }));
    const pruned = await runKiln(["-c", ctx, "--no-push"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).not.toContain("Building stage 0");
    const all = await runKiln(["-c", ctx, "--no-push", "--skip-unused-stages=false"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toContain("Building stage 0 (unused) FROM scratch");
    expect(all.stderr).toContain("Building stage 1 FROM scratch");
  }, 60_000);

  test("--cleanup in the isolated mode warns that it applies in place; -d=ref; --version", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: twoStages }));
    const out = fx.tmp();
    const r = await runKiln(["-c", ctx, "--no-push", "--cleanup", `--oci-layout-path=${out}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^WARN +--cleanup applies to the in-place mode/m);
    const d = await runKiln(["-c", ctx, `-d=${fx.reg.host}/short-eq:1`, "--insecure"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toContain(`Pushed ${fx.reg.host}/short-eq:1`);
    const v = await runKiln(["--version"]);
    expect([v.code, v.stdout]).toEqual([0, expect.stringMatching(/^kiln version : \S+\n$/)]);
  }, 60_000);
});
