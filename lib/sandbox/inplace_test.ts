// The in-place runner runs on the host's "/" here, so these commands only read, or write under a temp dir.
import { test, expect, afterAll } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { netNamespaceUnavailable, runInPlace } from "./mod.ts";
import { silentLogger } from "../log/mod.ts";

const repo = resolve(import.meta.dir, "../..");
const selfCommand = [process.execPath, join(repo, "cli/main.ts")];
const work = mkdtempSync(join(tmpdir(), "kiln-inplace-"));
chmodSync(work, 0o777);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(argv: string[], extra: Partial<Parameters<typeof runInPlace>[0]> = {}) {
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const code = await runInPlace(
    { argv, env: ["PATH=/usr/bin:/bin", "FOO=bar"], cwd: "/", uid: 0, gid: 0, groups: [], ...extra },
    { selfCommand, runtimeDir: "/nonexistent/kiln-inplace-test", logger: silentLogger, stdout: (c) => (out += dec.decode(c)), stderr: (c) => (err += dec.decode(c)) },
  );
  return { code, out, err };
}

test("runs with the given env, cwd, user and groups, on the real root", async () => {
  // Absolute paths: even a runner that ignored cwd could not write into the host's "/".
  const r = await run(["sh", "-c", `pwd; id -u; id -g; id -G; echo $FOO; touch ${work}/file && ls -n ${work}/file | awk '{print $3}'`], {
    cwd: work, uid: 1234, gid: 99, groups: [99, 7],
  });
  expect(r.err).toBe("");
  expect(r.out.split("\n")).toEqual([work, "1234", "99", "99 7", "bar", "1234", ""]);
  expect(r.code).toBe(0);
});

test("propagates the exit code and reports a missing command", async () => {
  expect((await run(["sh", "-c", "exit 42"])).code).toBe(42);
  const missing = await run(["nosuchcmd-kiln"]);
  expect(missing.code).toBe(127);
  expect(missing.err).toContain("nosuchcmd-kiln");
});

test("kills the process group the command leaves running, even when it holds the output pipes", async () => {
  const marker = `sleep 30.${process.pid}${Date.now() % 100000}`; // unique, so pgrep finds only ours
  const started = Date.now();
  const r = await run(["sh", "-c", `${marker} & echo started`]);
  expect(r.out).toBe("started\n");
  expect(r.code).toBe(0);
  expect(Date.now() - started).toBeLessThan(20_000);
  const ps = Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim();
  expect(ps).toBe("");
}, 30_000);

test("--network=none: a network namespace of its own, with loopback up", async () => {
  // Read-only: lists the interfaces the command sees.
  const r = await run(["sh", "-c", "ip -o link show; cat /proc/net/dev | tail -n +3 | cut -d: -f1"], { network: "none" });
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const [link, ...ifaces] = r.out.trim().split("\n");
  expect(link).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
  expect(ifaces.map((s) => s.trim())).toEqual(["lo"]);
});

test("netNamespaceUnavailable reads CAP_SYS_ADMIN from the effective set", () => {
  expect(netNamespaceUnavailable("Name:\tx\nCapEff:\t000001ffffffffff\n")).toBeUndefined();
  expect(netNamespaceUnavailable("Name:\tx\nCapEff:\t00000000a80425fb\n")).toBe("no CAP_SYS_ADMIN"); // Docker's default set
  expect(netNamespaceUnavailable("Name:\tx\n")).toContain("unknown");
});
