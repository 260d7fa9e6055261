import { test, expect, beforeAll, afterAll } from "bun:test";
import { chmodSync, mkdtempSync, mkdirSync, copyFileSync, symlinkSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { abortRuns, findRuntime, runIsolated } from "./mod.ts";
import { silentLogger } from "../log/mod.ts";

const repo = resolve(import.meta.dir, "../..");
const selfCommand = [process.execPath, join(repo, "cli/main.ts")];
let root: string;
let runtimeDir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-sandbox-"));
  runtimeDir = mkdtempSync(join(tmpdir(), "kiln-runtime-"));
  chmodSync(root, 0o755); // mkdtemp makes 0700, which a non-root user could not enter
  mkdirSync(join(root, "bin"));
  mkdirSync(join(root, "work"));
  copyFileSync("/bin/busybox", join(root, "bin/busybox"));
  for (const a of ["sh", "id", "pwd", "env", "cat", "sleep", "ls"]) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "marker"), "inside\n");
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(runtimeDir, { recursive: true, force: true });
});

async function run(argv: string[], extra: Partial<Parameters<typeof runIsolated>[0]> = {}) {
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const code = await runIsolated(
    { root, argv, env: ["PATH=/bin", "FOO=bar"], cwd: "/", uid: 0, gid: 0, groups: [], ...extra },
    { selfCommand, runtimeDir, logger: silentLogger, stdout: (c) => (out += dec.decode(c)), stderr: (c) => (err += dec.decode(c)) },
  );
  return { code, out, err };
}

test("runs inside the root with the given env, cwd and user", async () => {
  const r = await run(["sh", "-c", "cat /marker; pwd; id -u; id -g; id -G; echo $FOO; ls /proc/self >/dev/null && echo proc"], {
    cwd: "/work", uid: 1234, gid: 99, groups: [99, 7],
  });
  expect(r.err).toBe("");
  expect(r.out.split("\n")).toEqual(["inside", "/work", "1234", "99", "99 7", "bar", "proc", ""]);
  expect(r.code).toBe(0);
});

test("propagates the exit code and reports a missing command", async () => {
  expect((await run(["sh", "-c", "exit 42"])).code).toBe(42);
  const missing = await run(["nosuchcmd"]);
  expect(missing.code).toBe(127);
  expect(missing.err).toContain("nosuchcmd");
});

test("mounts stay private to the command and the host root is untouched", async () => {
  await run(["sh", "-c", "echo x > /created-inside"]);
  expect(existsSync(join(root, "created-inside"))).toBe(true);
  expect(existsSync("/created-inside")).toBe(false);
  const mounts = await Bun.file("/proc/self/mountinfo").text();
  expect(mounts).not.toContain(root);
});

test("kills what the command leaves running", async () => {
  const r = await run(["sh", "-c", "sleep 30 & echo started"]);
  expect(r.out).toBe("started\n");
  expect(r.code).toBe(0);
  const ps = Bun.spawnSync(["pgrep", "-f", "sleep 30"]).stdout.toString().trim();
  expect(ps).toBe("");
}, 10_000);

test("a RUN gets Docker's defaults: capabilities, hostname, a minimal /dev, read-only /sys", async () => {
  const r = await run(["sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; hostname; ls /dev; touch /sys/x 2>&1 || true; cat /proc/1/cmdline | tr '\\0' ' '; echo"]);
  expect(r.code).toBe(0);
  // Docker's default set: chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
  expect(r.out).toContain("CapEff:\t00000000a80425fb");
  expect(r.out).toContain("CapBnd:\t00000000a80425fb");
  expect(r.out).toContain("buildkitsandbox\n");
  const dev = r.out.split("buildkitsandbox\n")[1].split("\n");
  for (const d of ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"]) expect(dev).toContain(d);
  for (const name of dev) expect(name).not.toMatch(/^(sd|vd|nvme|loop|kmsg|mem|kvm)/);
  expect(r.out).toContain("Read-only file system");
  expect(r.out).toContain("sh -c grep"); // the command is PID 1: no host process is visible
});

test("a non-root user has no effective capabilities, as in Docker", async () => {
  const r = await run(["sh", "-c", "grep -E '^CapEff' /proc/self/status"], { uid: 1000, gid: 1000 });
  expect(r.out).toBe("CapEff:\t0000000000000000\n");
});

test("--network=none leaves only loopback, and it is up", async () => {
  const r = await run(["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags"], { network: "none" });
  expect(r.out.split("\n")[0]).toBe("lo");
  expect(Number(r.out.trim().split("\n").pop()) & 1).toBe(1); // IFF_UP
});

test("abortRuns kills a running RUN's whole tree, and only its own build's", async () => {
  const other = mkdtempSync(join(tmpdir(), "kiln-runtime-other-"));
  const dec = new TextDecoder();
  const start = (tag: string, dir: string) => {
    const started = Promise.withResolvers<void>();
    let out = "";
    const done = runIsolated(
      { root, argv: ["sh", "-c", `sleep ${tag} & echo started; wait`], env: ["PATH=/bin"], cwd: "/", uid: 0, gid: 0, groups: [] },
      { selfCommand, runtimeDir: dir, logger: silentLogger, stdout: (c) => { out += dec.decode(c); if (out.includes("started")) started.resolve(); } },
    );
    return { started: started.promise, done };
  };
  // Sleep durations no stranger's process has, matched whole by pgrep.
  const tag = () => String(100000 + Math.floor(Math.random() * 800000));
  const [myTag, theirTag] = [tag(), tag()];
  const running = (n: string) => Bun.spawnSync(["pgrep", "-f", `^sleep ${n}$`]).stdout.toString().trim();
  const mine = start(myTag, runtimeDir);
  const theirs = start(theirTag, other);
  try {
    await Promise.all([mine.started, theirs.started]);
    // `echo started` can run before the backgrounded child has exec'd sleep.
    for (let i = 0; i < 100 && (running(myTag) === "" || running(theirTag) === ""); i++) await Bun.sleep(20);
    expect(running(myTag)).not.toBe("");
    await abortRuns(runtimeDir);
    expect(await mine.done).toBe(137);
    expect(running(myTag)).toBe("");
    expect(running(theirTag)).not.toBe("");
    await abortRuns(other);
    expect(await theirs.done).toBe(137);
  } finally {
    await abortRuns(runtimeDir);
    await abortRuns(other);
    await Promise.allSettled([mine.done, theirs.done]);
    rmSync(other, { recursive: true, force: true });
  }
}, 20_000);

test("without runc, the error says how to install it", () => {
  expect(() => findRuntime(["/nonexistent/runc"])).toThrow(/apt-get install runc/);
  expect(findRuntime()).toMatch(/\/runc$/);
});
