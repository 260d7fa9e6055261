// Progress of the long phases as a CI log shows it (no TTY): the base layer's pull and unpack, the snapshot of a
// 20 MB RUN (tar and compression) and its push; the same as JSON events; nothing of it at -v warn.
import { describe, expect, test } from "bun:test";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { makeContext, runKiln } from "../support/kiln.ts";

const fx = useBusyboxRegistry();

// A short interval (the default is 5 s) so that a transfer lasting a few milliseconds logs a line while it runs.
const env = { KILN_PROGRESS_INTERVAL_MS: "1" };
const dockerfile = () => `FROM ${fx.base}\nRUN head -c 20000000 /dev/urandom > /random.bin\n`;
const SIZE = String.raw`\d+(\.\d)? (B|kB|MB)`;
const DIGEST = String.raw`sha256:[0-9a-f]{12}`;

describe("build progress", () => {
  test("text without a terminal: running lines and a final line with size, time and rate for unpack, snapshot, push", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
    const r = await runKiln(["-c", ctx, "-d", `${fx.reg.host}/progress-text:1`, "--insecure", "--insecure-pull"], { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n");
    const final = (phase: string) => new RegExp(`^INFO {2}${phase}: ${SIZE} in \\d+\\.\\ds, ${SIZE}/s`);
    expect(lines.filter((l) => final(`unpack ${DIGEST}`).test(l)), r.stderr).toHaveLength(1);
    // The snapshot counts the tar (20 MB of file and its header), and adds what it compressed to.
    expect(lines.filter((l) => new RegExp(`${final("snapshot").source} compressed=20\\.0 MB digest=${DIGEST}$`).test(l)), r.stderr)
      .toEqual([expect.stringContaining("snapshot: 20.0 MB in ")]);
    expect(lines.filter((l) => final(`push ${DIGEST}`).test(l)), r.stderr).toEqual([expect.stringContaining(": 20.0 MB in ")]);
    // While it runs, the snapshot's bytes so far and its rate.
    expect(lines.some((l) => new RegExp(`^INFO {2}snapshot: ${SIZE}, ${SIZE}/s$`).test(l)), r.stderr).toBe(true);
    // The running lines come before the final one, and all of it before the push's "Pushed".
    const lastSnapshot = lines.findLastIndex((l) => l.startsWith("INFO  snapshot"));
    expect(lastSnapshot).toBe(lines.findIndex((l) => final("snapshot").test(l)));
    expect(lines.findIndex((l) => final(`push ${DIGEST}`).test(l))).toBeLessThan(lines.findIndex((l) => l.includes("Pushed")));
  }, 180_000);

  test("--log-format json: progress events carry phase, bytes, total, time and rate", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
    const r = await runKiln(["-c", ctx, "-d", `${fx.reg.host}/progress-json:1`, "--insecure", "--insecure-pull", "--log-format", "json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const events = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
    const done = (phase: string) => events.filter((e) => e.progress === phase && e.done === true);
    const [unpack] = done("unpack");
    expect(unpack).toMatchObject({ level: "info", subject: expect.stringMatching(new RegExp(`^${DIGEST}$`)) });
    // Every byte of the base layer's blob was counted.
    expect(unpack.bytes).toBe(unpack.total);
    const [snapshot] = done("snapshot");
    expect(snapshot.bytes).toBeGreaterThan(20_000_000);
    expect(snapshot.digest).toMatch(new RegExp(`^${DIGEST}$`));
    const [push] = done("push");
    expect(push.bytes).toBe(push.total);
    expect(push.bytes).toBeGreaterThan(20_000_000);
    for (const e of [unpack, snapshot, push]) {
      expect(typeof e.elapsedMs).toBe("number");
      expect(typeof e.bytesPerSecond).toBe("number");
    }
    expect(events.some((e) => e.progress === "snapshot" && e.done === false && e.bytes > 0)).toBe(true);
  }, 180_000);

  test("-v warn: no progress at all", async () => {
    const ctx = fx.keep(makeContext({ Dockerfile: dockerfile() }));
    const r = await runKiln(["-c", ctx, "-d", `${fx.reg.host}/progress-quiet:1`, "--insecure", "--insecure-pull", "-v", "warn"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/unpack|snapshot|push sha256/);
  }, 180_000);
});
