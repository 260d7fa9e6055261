import { expect, test } from "bun:test";
import { retryAfterMs, withBackoff } from "./retry.ts";

test("the delay doubles, a Retry-After raises it (and the doubling goes on from there), the last attempt is told", async () => {
  const warned: string[] = [];
  const seen: boolean[] = [];
  const got = await withBackoff({ attempts: 4, firstDelayMs: 1, warn: (m) => warned.push(m) }, async (last) => {
    seen.push(last);
    if (seen.length === 1) return { again: new Error("a"), because: "first" };
    if (seen.length === 2) return { again: new Error("b"), because: "second", retryAfterMs: 5 };
    if (seen.length === 3) return { again: new Error("c"), because: "third" };
    return { done: "ok" };
  });
  expect(got).toBe("ok");
  expect(seen).toEqual([false, false, false, true]);
  expect(warned).toEqual([
    "first; retrying in 1 ms (attempt 2/4)",
    "second; retrying in 5 ms (attempt 3/4)",
    "third; retrying in 10 ms (attempt 4/4)",
  ]);
});

test("when the budget is spent the last attempt's error is thrown; one attempt means no retry and no warning", async () => {
  const warned: string[] = [];
  let n = 0;
  const failing = async () => ({ again: new Error(`failure ${++n}`), because: "x" });
  await expect(withBackoff({ attempts: 2, firstDelayMs: 1, warn: (m) => warned.push(m) }, failing)).rejects.toThrow("failure 2");
  expect(warned).toHaveLength(1);
  await expect(withBackoff({ attempts: 1, firstDelayMs: 1, warn: (m) => warned.push(m) }, failing)).rejects.toThrow("failure 3");
  expect(warned).toHaveLength(1);
});

test("Retry-After in seconds or as an HTTP date", () => {
  expect(retryAfterMs("3")).toBe(3000);
  expect(retryAfterMs(null)).toBeUndefined();
  expect(retryAfterMs("soon")).toBeUndefined();
  expect(retryAfterMs(new Date(Date.now() - 10_000).toUTCString())).toBe(0);
});
