import { test, expect } from "bun:test";
import { createLogger, parseLevel } from "./mod.ts";

function capture(opts: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const log = createLogger({ ...opts, write: (l) => lines.push(l), now: () => new Date("2026-01-02T03:04:05Z") });
  return { log, lines };
}

test("levels filter as logrus's do", () => {
  const { log, lines } = capture({ level: "warn", format: "text" });
  log.info("hidden");
  log.debug("hidden");
  log.warn("shown");
  log.error("shown too");
  expect(lines).toEqual(["WARN  shown", "ERROR shown too"]);
});

test("json lines carry level, message, time and fields", () => {
  const { log, lines } = capture({ format: "json" });
  log.info("pushed", { ref: "r:t" });
  expect(JSON.parse(lines[0])).toEqual({ level: "info", msg: "pushed", time: "2026-01-02T03:04:05.000Z", ref: "r:t" });
});

test("timestamps and colours", () => {
  const t = capture({ format: "text", timestamp: true });
  t.log.info("x");
  expect(t.lines[0]).toBe("2026-01-02T03:04:05.000Z INFO  x");
  const c = capture({ format: "color" });
  c.log.error("x");
  expect(c.lines[0]).toContain("\x1b[31m");
});

test("unknown levels are named", () => {
  expect(parseLevel("WARNING")).toBe("warn");
  expect(() => parseLevel("loud")).toThrow(/loud/);
});

test("the default format is plain text: a library caller's log may be a file", () => {
  const { log, lines } = capture({});
  log.warn("x");
  expect(lines).toEqual(["WARN  x"]);
});
