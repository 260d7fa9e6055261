import { describe, expect, test } from "bun:test";
import { DurationError, parseGoDuration } from "./duration.ts";

describe("parseGoDuration (--cache-ttl)", () => {
  test.each([
    ["336h", 336 * 3600_000],
    ["1h30m", 90 * 60_000],
    ["90s", 90_000],
    ["2h45m10.5s", (2 * 3600 + 45 * 60 + 10.5) * 1000],
    ["1.5h", 5400_000],
    [".5s", 500],
    ["1.s", 1000],
    ["250ms", 250],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["2000000ns", 2],
    ["0", 0],
    ["+5m", 300_000],
    ["-1m", -60_000],
    ["1m1m", 120_000],
  ])("%s", (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  test.each(["", "h", "10", "1d", "1h30", "one", "1.2.3s", "- 1s", ".s", "1h 30m"])("%p is refused with a clear error", (text) => {
    expect(() => parseGoDuration(text)).toThrow(DurationError);
    expect(() => parseGoDuration(text)).toThrow(/invalid duration .*e\.g\. 336h/);
  });
});
