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
  [["[!a-c].txt"], "d.txt", true],
  [["tmp*", "!tmp/keep", "tmp/keep/no"], "tmp/keep/no", true],
];

test.each(cases)("%p matches %p -> %p", (patterns, path, want) => {
  expect(new IgnoreMatcher(patterns).ignores(path)).toBe(want);
});

test("comments and blank lines are dropped", () => {
  expect(parseDockerignore("# c\n\n  a  \r\nb\n")).toEqual(["a", "b"]);
});
