import { expect, test } from "bun:test";
import { ContextError } from "./context.ts";
import { globSource } from "./glob.ts";

const matches = (pattern: string, path: string) => new RegExp(`^${globSource(pattern)}$`).test(path);

test("classes as Go's filepath.Match reads them: `\\` escapes inside, `^` and `!` negate, a class stays in one element", () => {
  expect(matches("f[\\]]", "f]")).toBe(true);
  expect(matches("[^a].txt", "b.txt")).toBe(true);
  // Docker (Go) negates a class with `^` only: `[!a-c]` is `!` or a to c (conformance case dockerignore-bracket-classes).
  expect(matches("[!a-c].txt", "d.txt")).toBe(false);
  expect(matches("[!a-c].txt", "b.txt")).toBe(true);
  expect(matches("[^a-c].txt", "d.txt")).toBe(true);
  expect(matches("[a-c]/x", "b/x")).toBe(true);
  expect(matches("a[^b]c", "a/c")).toBe(true); // Go's classes, like Docker's regexps, do not exclude "/"
});

test("an escape outside a class is the character itself", () => {
  expect(matches("\\d", "d")).toBe(true);
  expect(matches("\\d", "1")).toBe(false);
  expect(matches("a\\*", "a*")).toBe(true);
});

test.each(["a[b", "[]a]", "[-a]", "x\\"])("%p is refused as Go's Match refuses it", (p) => {
  expect(() => globSource(p)).toThrow(ContextError);
});
