import { expect, test } from "bun:test";
import { createLogger, formatBytes, type LoggerOptions } from "./mod.ts";

/** Waits (up to 5 s) until `cond` holds: the renderer writes on its own timer. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await Bun.sleep(10);
}

function capture(opts: LoggerOptions, tty?: { out: string[] }) {
  const lines: string[] = [];
  const stream = tty ? { isTTY: true, columns: 60, write: (s: string) => { tty.out.push(s); } } : undefined;
  const log = createLogger({ ...opts, write: (l) => lines.push(l), progress: { ...opts.progress, ...(stream ? { stream } : {}) } });
  return { log, lines };
}

test("sizes in decimal units, as Docker prints them", () => {
  expect(formatBytes(999)).toBe("999 B");
  expect(formatBytes(20_000_000)).toBe("20.0 MB");
  expect(formatBytes(1_500)).toBe("1.5 kB");
});

test("on a terminal: a live line per transfer redrawn in place, then the final line in the log", async () => {
  const tty = { out: [] as string[] };
  const { log, lines } = capture({ format: "text" }, tty);
  const a = log.progress("unpack", { subject: "sha256:aaaa", total: 4_000_000 });
  const b = log.progress("push", { subject: "sha256:bbbb" });
  a.update(1_000_000);
  b.update(3_000_000);
  await until(() => tty.out.length >= 2);
  // Two live lines, each drawn again after moving the cursor back up over the previous pair.
  expect(tty.out[0]).toMatch(/^unpack sha256:aaaa: 1\.0 MB \/ 4\.0 MB \(25%\), [\d.]+ [kMG]?B\/s\npush sha256:bbbb: 3\.0 MB, [\d.]+ [kMG]?B\/s\n$/);
  expect(tty.out[1]).toStartWith("\x1b[2A\r\x1b[J");
  expect(lines).toEqual([]);
  // A log line first erases the live lines, so it does not land in the middle of them.
  const before = tty.out.length;
  log.info("Pushing image");
  expect(tty.out.slice(before)).toEqual(["\x1b[2A\r\x1b[J"]);
  a.update(3_000_000);
  a.done();
  b.cancel();
  expect(lines[0]).toBe("INFO  Pushing image");
  expect(lines[1]).toMatch(/^INFO {2}unpack sha256:aaaa: 4\.0 MB in \d+\.\ds, [\d.]+ [kMG]?B\/s$/);
  expect(lines).toHaveLength(2);
  const drawn = tty.out.length;
  await Bun.sleep(300);
  expect(tty.out.length).toBe(drawn);
});

test("without a terminal: a line per interval per transfer, then a final line with size, time and rate", async () => {
  const { log, lines } = capture({ format: "text", progress: { intervalMs: 20 } });
  const p = log.progress("snapshot");
  p.update(2_500_000);
  await until(() => lines.length >= 1);
  expect(lines[0]).toMatch(/^INFO {2}snapshot: 2\.5 MB, [\d.]+ [kMG]?B\/s$/);
  p.done({ digest: "sha256:cc" });
  expect(lines.at(-1)).toMatch(/^INFO {2}snapshot: 2\.5 MB in \d+\.\ds, [\d.]+ [kMG]?B\/s digest=sha256:cc$/);
  expect(lines.join("\n")).not.toContain("\x1b[");
});

test("without a terminal, a transfer that has counted nothing yet gets no running line (a push counted once it is sent)", async () => {
  const { log, lines } = capture({ format: "text", progress: { intervalMs: 10 } });
  const p = log.progress("push", { subject: "sha256:aa", total: 1_000_000 });
  await Bun.sleep(100);
  expect(lines).toEqual([]);
  p.update(1_000_000);
  p.done();
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^INFO {2}push sha256:aa: 1\.0 MB in /);
});

test("json: progress lines are events with the transfer's fields", async () => {
  const { log, lines } = capture({ format: "json", progress: { intervalMs: 20 } });
  const p = log.progress("push", { subject: "sha256:dd", total: 10 });
  p.update(4);
  await until(() => lines.length >= 1);
  p.update(6);
  p.done();
  const events = lines.map((l) => JSON.parse(l));
  expect(events[0]).toMatchObject({ level: "info", progress: "push", subject: "sha256:dd", bytes: 4, total: 10, done: false });
  expect(events.at(-1)).toMatchObject({ level: "info", progress: "push", subject: "sha256:dd", bytes: 10, total: 10, done: true });
  expect(typeof events.at(-1).elapsedMs).toBe("number");
  expect(typeof events.at(-1).bytesPerSecond).toBe("number");
});

test("at -v warn nothing of it, on a terminal or not", async () => {
  const tty = { out: [] as string[] };
  const { log, lines } = capture({ level: "warn", progress: { intervalMs: 10 } }, tty);
  const p = log.progress("unpack", { total: 5 });
  p.update(5);
  await Bun.sleep(250);
  p.done();
  expect(lines).toEqual([]);
  expect(tty.out).toEqual([]);
});

test("a reset transfer counts from zero again (a retried upload)", () => {
  const { log, lines } = capture({ format: "text" });
  const p = log.progress("push");
  p.update(5_000);
  p.reset();
  p.update(2_000);
  p.done();
  expect(lines[0]).toStartWith("INFO  push: 2.0 kB in ");
});
