import { expect, test } from "bun:test";
import { parseClass, PatternError, trimPrefix } from "./pattern.ts";

// Where the shell's ${VAR#pattern} and Docker's globs (Go's filepath.Match) read a `[...]` class differently.
const matches = (pattern: string, value: string) => trimPrefix(pattern, value, true) !== value || value === "";

test.each([
  ["[!a]", "b", true], ["[!a]", "a", false], ["[^a]", "b", true], ["[^a]", "!", true],
  ["[]a]", "]", true], ["[]a]", "a", true],
  ["[\\]x", "\\x", true],                   // `\` is a member, the next `]` closes the class
  ["[a-c]", "b", true], ["[a-]", "-", true], ["[-a]", "-", true],
  ["a[b", "a[b", true],                     // an unterminated `[` is literal
])("shell: %p on %p -> %p", (pattern, value, want) => {
  expect(matches(pattern, value)).toBe(want);
});

const goClass = (p: string) => parseClass(Array.from(p), 0, "go");
const goMatches = (p: string, c: string) => new RegExp(`^${goClass(p)!.source}$`).test(c);

test("go: `\\` escapes inside a class, only `^` negates (`!` is a member), ranges by code point", () => {
  expect(goMatches("[\\]]", "]")).toBe(true);
  expect(goMatches("[\\-]", "-")).toBe(true);
  expect(goMatches("[\\\\]", "\\")).toBe(true);
  expect(goMatches("[^a]", "a")).toBe(false);
  expect(goMatches("[!a]", "b")).toBe(false);
  expect(goMatches("[!a]", "!")).toBe(true);
  expect(goMatches("[!a]", "a")).toBe(true);
  expect(goMatches("[a-c]", "b")).toBe(true);
  expect(goMatches("[a-c]", "d")).toBe(false);
  expect(goClass("[ab]x")).toEqual({ source: "[ab]", end: 3 });
});

test.each(["[]a]", "[", "[ab", "[a-]", "[-a]", "[^]", "[a\\", "[c-a]"])("go: %p is a bad pattern (ErrBadPattern)", (p) => {
  expect(() => goClass(p)).toThrow(PatternError);
});

test("shell: a reversed range is an error, an unterminated class is not", () => {
  expect(() => parseClass(Array.from("[c-a]"), 0, "shell")).toThrow(PatternError);
  expect(parseClass(Array.from("[ab"), 0, "shell")).toBeUndefined();
});
