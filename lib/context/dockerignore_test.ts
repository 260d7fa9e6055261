import { test, expect } from "bun:test";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";

const cases: [string[], string, boolean][] = [
  [["*.md"], "README.md", true],
  [["*.md"], "docs/README.md", false],
  [["**/*.md"], "docs/a/README.md", true],
  [["**/*.md"], "README.md", true],
  [["node_modules"], "node_modules/x/y.js", true],
  [["./build/"], "build/out", true],
  [["*", "!keep.txt"], "keep.txt", false],
  [["*", "!keep.txt"], "other.txt", true],
  [["docs", "!docs/keep.md"], "docs/keep.md", false],
  [["docs", "!docs/keep.md"], "docs/drop.md", true],
  [["a?c"], "abc", true],
  [["a?c"], "a/c", false],
  [["[a-c].txt"], "b.txt", true],
  [["[!a-c].txt"], "d.txt", false],
  [["[!a-c].txt"], "!.txt", true],
  [["[^a-c].txt"], "d.txt", true],
  [["tmp*", "!tmp/keep", "tmp/keep/no"], "tmp/keep/no", true],
];

test.each(cases)("%p matches %p -> %p", (patterns, path, want) => {
  expect(new IgnoreMatcher(patterns).ignores(path)).toBe(want);
});

test("comments and blank lines are dropped", () => {
  expect(parseDockerignore("# c\n\n  a  \r\nb\n")).toEqual(["a", "b"]);
});

test("mayIncludeBelow: only exceptions that can reach below the directory make it walked", () => {
  const m = new IgnoreMatcher(["**/*.log", "!sub/keep.log", "tmp", "docs", "!docs/keep", "!**/important"]);
  expect(m.mayIncludeBelow("sub")).toBe(true);
  expect(m.mayIncludeBelow("docs")).toBe(true);
  const n = new IgnoreMatcher(["tmp", "docs", "!docs/keep"]);
  expect(n.mayIncludeBelow("tmp")).toBe(false);
  expect(n.mayIncludeBelow("docs")).toBe(true);
  expect(n.mayIncludeBelow("docs/keep")).toBe(false);
  expect(new IgnoreMatcher(["a", "!a/*/c"]).mayIncludeBelow("a/b")).toBe(true);
  expect(new IgnoreMatcher(["a", "!a/x/c"]).mayIncludeBelow("a/b")).toBe(false);
});
