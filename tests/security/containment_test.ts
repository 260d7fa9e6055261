// Containment of RUN in the isolated mode: one build whose RUNs try, as root, the known ways out of a container
// (probe.c and escape.pl; see README.md here), then a look at the host. Each probe prints one
// "RESULT <name> <verdict> <detail>" line to the RUN's output, which kiln passes to its stdout.
// Every probe is harmless when it succeeds (these tests also run against a sandbox that does not contain it):
// it only reads the planted file, creates markers in this file's own temp dir and one random-named file in
// /dev that afterAll removes, and undoes the mount/cgroup/ptrace it managed to make.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runKiln, type KilnRun } from "../support/kiln.ts";
import { compileProbe, copyPerl, hostBlockDevices } from "./probe-context.ts";

const rand = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);
const ID = rand();
const CGROUP_ROOT = "/sys/fs/cgroup";

interface Result { verdict: string; detail: string }

const dirs: string[] = [];
const tmp = (prefix: string) => { const d = mkdtempSync(join(tmpdir(), prefix)); dirs.push(d); return d; };

// What the probes aim at on the host, and what the host looked like right after the build.
const host = {
  dir: "",
  planted: "",
  token: `kiln-sec-token-${rand()}`,
  markerC: "",
  markerPerl: "",
  devFile: `/dev/kiln-sec-${ID}`,
  cgroupName: `kiln-sec-${ID}`,
  mountDir: `/tmp/kiln-sec-mnt-${ID}`,
  // A host process with a unique argv (GNU sleep takes a fractional count), given to the probes in two
  // halves so that the probe's own argv never matches it.
  sleepArg: `86400.${Math.floor(Math.random() * 1e9).toString().padStart(9, "0")}`,
  sleep: undefined as ReturnType<typeof Bun.spawn> | undefined,
  devFileWasThere: false,
  cgroupsLeft: [] as string[],
  mountSeen: false,
  sleepStatus: "",
};
let build: KilnRun;
const results = new Map<string, Result>();

/** Where the cgroup probe may have left its directory on the host, deepest first (the order to remove them). */
function cgroupCandidates(): string[] {
  const out: string[] = [];
  try {
    for (const e of readdirSync(CGROUP_ROOT, { withFileTypes: true })) if (e.isDirectory()) out.push(join(CGROUP_ROOT, e.name, host.cgroupName));
  } catch { /* no cgroup tree */ }
  return [...out, join(CGROUP_ROOT, host.cgroupName)];
}

function cleanHost(): void {
  if (existsSync(host.devFile)) rmSync(host.devFile, { force: true });
  for (const c of cgroupCandidates()) if (existsSync(c)) { try { rmdirSync(c); } catch { /* reported by the test */ } }
}

beforeAll(async () => {
  host.dir = tmp("kiln-sec-host-");
  host.planted = join(host.dir, `planted-${rand()}`);
  writeFileSync(host.planted, `${host.token}\n`);
  host.markerC = join(host.dir, "escaped-c");
  host.markerPerl = join(host.dir, "escaped-perl");
  host.sleep = Bun.spawn(["sleep", host.sleepArg], { stdout: "ignore", stderr: "ignore" });
  const pid = String(host.sleep.pid);
  const half = host.sleepArg.length >> 1;
  const [headArg, tailArg] = [host.sleepArg.slice(0, half), host.sleepArg.slice(half)];

  const ctx = tmp("kiln-sec-ctx-");
  mkdirSync(join(ctx, "kiln-sec"));
  compileProbe(join(ctx, "kiln-sec/probe"));
  copyFileSync(join(import.meta.dir, "escape.pl"), join(ctx, "kiln-sec/escape.pl"));
  copyPerl(join(ctx, "perlroot"));
  const blocks = hostBlockDevices();
  // A device the host itself can read, so that "could not read it" is the sandbox's doing.
  const target = blocks.find((b) => b.hostCanOpen) ?? { major: 7, minor: 0 };

  const probe = (...args: string[]) => `RUN ${JSON.stringify(["/kiln-sec/probe", ...args])}`;
  const dockerfile = [
    "FROM scratch",
    "COPY kiln-sec/ /kiln-sec/",
    "COPY perlroot/ /",
    "WORKDIR /tmp",
    probe("chroot-escape", "chroot-c", host.planted, host.token, host.markerC),
    `RUN ${JSON.stringify(["/usr/bin/perl", "/kiln-sec/escape.pl", host.planted, host.token, host.markerPerl])}`,
    probe("dev", ...blocks.map((b) => b.path)),
    probe("dev-create", host.devFile),
    probe("mount", host.mountDir),
    probe("mknod", `/tmp/kiln-sec-blk-${ID}`, String(target.major), String(target.minor)),
    probe("proc-sys"),
    probe("sysrq"),
    probe("proc-readonly"),
    probe("proc-masked"),
    probe("sys"),
    probe("cgroup", host.cgroupName),
    probe("pids", headArg, tailArg),
    probe("ptrace", pid, headArg, tailArg),
    probe("kmod"),
    probe("unshare"),
    probe("setns", host.planted, pid),
    "",
  ].join("\n");
  writeFileSync(join(ctx, "Dockerfile"), dockerfile);

  build = await runKiln(["--context", ctx, "--no-push", "--isolation", "isolated", "--kaniko-dir", tmp("kiln-sec-work-")]);
  for (const m of build.stdout.matchAll(/^RESULT (\S+) (\S+) (.*)$/gm)) {
    if (!results.has(m[1])) results.set(m[1], { verdict: m[2], detail: m[3] });
  }

  // The host, looked at before anything is cleaned up.
  host.devFileWasThere = existsSync(host.devFile);
  host.cgroupsLeft = cgroupCandidates().filter((c) => existsSync(c));
  host.mountSeen = readFileSync("/proc/self/mountinfo", "utf8").includes(`kiln-sec-mnt-${ID}`);
  try {
    const st = readFileSync(`/proc/${pid}/status`, "utf8");
    host.sleepStatus = ["State", "TracerPid"].map((k) => st.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))?.[1] ?? "?").join(" / ");
  } catch (e) {
    host.sleepStatus = `gone: ${e}`;
  }
  cleanHost();
}, 120_000);

afterAll(() => {
  host.sleep?.kill("SIGKILL");
  cleanHost();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The probe's line; a missing line fails with what kiln printed, since the build may have stopped early. */
function result(name: string): Result {
  const r = results.get(name);
  if (r) return r;
  const tail = (s: string) => s.trim().split("\n").slice(-15).join("\n");
  throw new Error(`probe ${name} printed no RESULT line; kiln exited ${build?.code}\nstdout:\n${tail(build?.stdout ?? "")}\nstderr:\n${tail(build?.stderr ?? "")}`);
}

function expectContained(name: string): void {
  // The whole line is compared so that a failure shows the probe's detail (what it reached, and how).
  expect({ probe: name, ...result(name) }).toEqual({ probe: name, verdict: "contained", detail: expect.any(String) });
}

describe("a RUN as root in the isolated mode cannot reach the host", () => {
  test("the build itself ran every probe", () => {
    expect({ code: build.code, stderr: build.code === 0 ? "" : build.stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("double chroot (static C) does not reach the host's files", () => {
    expectContained("chroot-c");
    expect(existsSync(host.markerC)).toBe(false);
  });

  test("double chroot (perl) does not reach the host's files", () => {
    expectContained("chroot-perl");
    expect(existsSync(host.markerPerl)).toBe(false);
  });

  test("the host's disks and kernel log cannot be opened through /dev", () => expectContained("dev-read"));

  test("a file created in the RUN's /dev does not appear in the host's /dev", () => {
    result("dev-create");
    expect({ file: host.devFile, onHost: host.devFileWasThere }).toEqual({ file: host.devFile, onHost: false });
  });

  test("mount is refused", () => {
    expectContained("mount");
    expect(host.mountSeen).toBe(false);
  });

  test("a block device made with mknod cannot be read", () => expectContained("mknod"));

  test("/proc/sys cannot be opened for writing", () => expectContained("proc-sys"));

  test.skipIf(!existsSync("/proc/sysrq-trigger"))("/proc/sysrq-trigger cannot be opened for writing", () => expectContained("sysrq"));

  test("Docker's other read-only /proc paths (/proc/irq, /proc/bus) cannot be opened for writing", () => expectContained("proc-readonly"));

  test("Docker's masked paths (/proc/keys, /proc/timer_list, /sys/firmware, ...) read as empty", () => expectContained("proc-masked"));

  test("/sys cannot be opened for writing nor remounted read-write", () => expectContained("sys"));

  test("no cgroup can be created, and nothing made in /sys/fs/cgroup lands in the host's", () => {
    expectContained("cgroup");
    expect(host.cgroupsLeft).toEqual([]);
  });

  test("host processes are not visible", () => expectContained("pids"));

  test("a host process cannot be ptraced", () => {
    expectContained("ptrace");
    expect(host.sleepStatus).toMatch(/^S .*\/ 0$/);
  });

  test("no kernel module can be loaded", () => expectContained("kmod"));

  test("unshare of new namespaces is refused", () => expectContained("unshare"));

  test("setns into another namespace is refused", () => expectContained("setns"));
});
