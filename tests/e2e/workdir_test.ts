// One build, one private work directory: under --kaniko-dir (or TMPDIR) each build works in its own
// <base>/builds/<id>/, removed on success, failure, SIGINT and SIGTERM; two builds at once on one kaniko dir never
// see each other's files but share the RUN cache mounts; the leftovers of a build killed by SIGKILL are removed by
// the next build; a full kaniko dir gets one line naming it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { makeContext, runKiln, spawnKiln } from "../support/kiln.ts";
import { layoutContains, layerPaths } from "../support/layers.ts";

const fx = useBusyboxRegistry();
const tmp = fx.tmp;

const buildsIn = (kanikoDir: string) => (existsSync(join(kanikoDir, "builds")) ? readdirSync(join(kanikoDir, "builds")) : []);

/** A sleep whose argv no other process has, to find it in /proc. */
function uniqueSleep(): { seconds: string; pids: () => number[] } {
  const seconds = String(100000 + Math.floor(Math.random() * 800000));
  const pids = () => readdirSync("/proc").filter((n) => /^\d+$/.test(n)).filter((n) => {
    try { return readFileSync(`/proc/${n}/cmdline`, "utf8") === `sleep\0${seconds}\0`; } catch { return false; }
  }).map(Number);
  return { seconds, pids };
}

/** Polls until `pids()` is non-empty: `echo started` can run before the backgrounded child has exec'd sleep. */
async function appeared(pids: () => number[], tries = 100): Promise<number> {
  for (let i = 0; i < tries && pids().length === 0; i++) await Bun.sleep(20);
  return pids().length;
}

/** Polls until `pids()` is empty (a killed tree takes a moment to be reaped); gives up after `tries` polls. */
async function gone(pids: () => number[], tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (pids().length === 0) return true;
    await Bun.sleep(100);
  }
  return false;
}

const started: ReturnType<typeof uniqueSleep>[] = [];
afterAll(() => {
  // Whatever a failing test left running (the sleeps these tests started, found by their unique argv).
  for (const s of started) for (const pid of s.pids()) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
});

describe("the build's own directory", () => {
  test("is removed after a successful and after a failed build on --kaniko-dir", async () => {
    const kanikoDir = tmp("kiln-wd-k-");
    const ok = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo ok > /ok\n` })), "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir]);
    expect(ok.code).toBe(0);
    expect(buildsIn(kanikoDir)).toEqual([]);
    const bad = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo leftover > /leftover && false\n` })), "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir]);
    expect(bad.code).toBe(1);
    expect(buildsIn(kanikoDir)).toEqual([]);
    expect(readdirSync(kanikoDir).filter((n) => n !== "builds" && n !== "cache")).toEqual([]);
    // The next build on that dir sees nothing of the failed one.
    const out = join(tmp("kiln-wd-out-"), "oci");
    const next = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN ls / > /listing\n` })), "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir, "--oci-layout-path", out]);
    expect(next.code).toBe(0);
    expect(layoutContains(out, "leftover")).toBe(false);
  });

  test("in TMPDIR: nothing is left there after a success, a failure or an early error", async () => {
    const tempDir = tmp("kiln-wd-tmpdir-");
    const env = { TMPDIR: tempDir };
    const ok = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo ok > /ok\n` })), "--no-push", "--insecure-pull"], { env });
    expect(ok.code).toBe(0);
    expect(readdirSync(tempDir)).toEqual([]);
    const bad = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN false\n` })), "--no-push", "--insecure-pull"], { env });
    expect(bad.code).toBe(1);
    expect(readdirSync(tempDir)).toEqual([]);
    const early = await runKiln(["-c", join(tempDir, "no-such-context"), "--no-push"], { env });
    expect(early.code).toBe(1);
    expect(readdirSync(tempDir)).toEqual([]);
  });
});

describe("two builds at once on one --kaniko-dir", () => {
  test("both succeed, neither sees the other's files, and they share the cache mounts", async () => {
    const kanikoDir = tmp("kiln-wd-shared-");
    // Each RUN waits (bounded) until the other build's RUN is running too, through a cache mount both builds
    // share, so the two build roots certainly exist at the same time; then each lists its own root.
    const dockerfile = (me: string, other: string) => `FROM ${fx.base}
RUN --mount=type=cache,id=meet,target=/meet sh -c 'echo ${me} > /only-${me}; touch /meet/${me}; i=0; while [ ! -e /meet/${other} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; [ -e /meet/${other} ] || exit 1; ls / > /listing-${me}'
RUN --mount=type=cache,id=log,target=/log,sharing=locked sh -c 'echo ${me} >> /log/entries'
`;
    const outs = { a: join(tmp("kiln-wd-a-"), "oci"), b: join(tmp("kiln-wd-b-"), "oci") };
    const run = (me: "a" | "b", other: string) => runKiln([
      "-c", fx.keep(makeContext({ Dockerfile: dockerfile(me, other) })), "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir, "--oci-layout-path", outs[me],
    ]);
    const [a, b] = await Promise.all([run("a", "b"), run("b", "a")]);
    expect(a.stderr).not.toContain("ERROR");
    expect(b.stderr).not.toContain("ERROR");
    expect([a.code, b.code]).toEqual([0, 0]);
    expect((await layerPaths(outs.a)).flat()).toContain("only-a");
    expect(layoutContains(outs.a, "only-b")).toBe(false);
    expect(layoutContains(outs.b, "only-a")).toBe(false);
    expect(buildsIn(kanikoDir)).toEqual([]);
    // The cache mounts outlive both builds in the kaniko dir, with what each wrote.
    const out = join(tmp("kiln-wd-c-"), "oci");
    const after = await runKiln([
      "-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN --mount=type=cache,id=log,target=/log sort /log/entries | tr '\\n' , > /entries\n` })),
      "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir, "--oci-layout-path", out,
    ]);
    expect(after.code).toBe(0);
    expect(layoutContains(out, "a,b,")).toBe(true);
  });
});

describe("SIGTERM and SIGINT during a RUN", () => {
  for (const [signal, code, where] of [["SIGTERM", 143, "--kaniko-dir"], ["SIGINT", 130, "TMPDIR"]] as const) {
    test(`${signal}: exit ${code}, the RUN's processes are killed, the build's directory in ${where} is removed`, async () => {
      const sleep = uniqueSleep();
      started.push(sleep);
      const kanikoDir = tmp("kiln-wd-sig-k-");
      const tempDir = tmp("kiln-wd-sig-t-");
      const tar = join(tmp("kiln-wd-sig-out-"), "image.tar");
      const run = spawnKiln([
        "-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN sleep ${sleep.seconds} & echo start""ed; wait\n` })),
        "--no-push", "--insecure-pull", "--tar-path", tar, ...(where === "--kaniko-dir" ? ["--kaniko-dir", kanikoDir] : []),
      ], { env: { TMPDIR: tempDir } });
      await run.waitFor("started");
      expect(await appeared(sleep.pids)).toBe(1);
      expect(buildsIn(where === "--kaniko-dir" ? kanikoDir : join(tempDir, "kiln"))).toHaveLength(1);
      run.proc.kill(signal);
      const r = await run.done();
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`interrupted by ${signal}`);
      expect(await gone(sleep.pids)).toBe(true);
      expect(buildsIn(kanikoDir)).toEqual([]);
      expect(readdirSync(tempDir)).toEqual([]);
      expect(existsSync(tar)).toBe(false);
    });
  }
});

describe("after kiln is killed by SIGKILL during a RUN", () => {
  const sleep = uniqueSleep();
  started.push(sleep);
  let kanikoDir: string;
  let leftover: string[];

  beforeAll(async () => {
    kanikoDir = tmp("kiln-wd-kill-");
    const run = spawnKiln([
      "-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN sleep ${sleep.seconds} & echo start""ed; wait\n` })),
      "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir,
    ]);
    await run.waitFor("started");
    expect(await appeared(sleep.pids)).toBe(1);
    run.proc.kill("SIGKILL");
    await run.done();
    leftover = buildsIn(kanikoDir);
  });

  test("the RUN's processes die with it (the runtime's watchdog)", async () => {
    expect(await gone(sleep.pids)).toBe(true);
  });

  test("the next build on that kaniko dir removes the leftover directory", async () => {
    expect(leftover).toHaveLength(1);
    const next = await runKiln(["-c", fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN true\n` })), "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`left by a build that is gone`);
    expect(buildsIn(kanikoDir)).toEqual([]);
    expect(await gone(sleep.pids)).toBe(true);
  });
});

describe("a full --kaniko-dir", () => {
  test("gets one line naming it, and the failed build's files are removed (tmpfs in a private mount namespace)", async () => {
    const kanikoDir = tmp("kiln-wd-full-");
    const ctx = fx.keep(makeContext({ Dockerfile: `FROM ${fx.base}\nRUN echo hi > /hi\n` }));
    // The tmpfs exists only in the namespace: the listing of what is left is taken there, before it goes.
    const run = spawnKiln(["-c", ctx, "--no-push", "--insecure-pull", "--kaniko-dir", kanikoDir], {
      prefix: ["unshare", "--mount", "--propagation", "private", "sh", "-c",
        'k="$1"; shift; mount -t tmpfs -o size=512k tmpfs "$k" && "$@"; rc=$?; echo "left:$(ls -A "$k/builds" 2>/dev/null | tr "\\n" " "):"; exit $rc', "sh", kanikoDir],
    });
    const r = await run.done();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("left::");
    const errors = r.stderr.split("\n").filter((l) => l.includes("ERROR"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`no space left on the device writing ${kanikoDir}:`);
    expect(r.stderr).not.toContain("ENOSPC");
  });
});
