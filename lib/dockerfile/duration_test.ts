import { describe, expect, test } from "bun:test";
import { parseDuration } from "./duration.ts";
import { ParseFailure } from "./errors.ts";

describe("parseDuration (Go's time.ParseDuration: HEALTHCHECK flags, --cache-ttl)", () => {
  test.each([
    ["336h", 336 * 3600e9],
    ["1h30m", 90 * 60e9],
    ["90s", 90e9],
    ["2h45m10.5s", (2 * 3600 + 45 * 60 + 10.5) * 1e9],
    ["1.5h", 5400e9],
    [".5s", 500e6],
    ["1.s", 1e9],
    ["250ms", 250e6],
    ["1500us", 1.5e6],
    ["1500µs", 1.5e6],
    ["1500μs", 1.5e6],
    ["2000000ns", 2e6],
    ["0", 0],
    ["+5m", 300e9],
    ["-1m", -60e9],
    ["1m1m", 120e9],
  ])("%s", (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  test.each(["", "h", "10", "1d", "1h30", "one", "1.2.3s", "- 1s", ".s", "1h 30m"])("%p is refused", (text) => {
    expect(() => parseDuration(text)).toThrow(ParseFailure);
    expect(() => parseDuration(text)).toThrow(/duration/);
  });
});
