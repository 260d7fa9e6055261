import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expand, expandWords, ExpansionError } from "./mod.ts";
import { MAX_NESTING } from "./lex.ts";

const ENV: Record<string, string> = {
  PWD: "/home",
  SHELL: "bash",
  KOREAN: "한국어",
  HOME: "/root",
  EMPTY: "",
  SPACED: "a b  c",
  P: "/usr/local/bin/app.tar.gz",
  NUM: "42",
  STAR: "*",
  A: "a",
  B: "b",
  lower: "lc",
  _U: "under",
  X1: "x1",
  SLASHES: "a/b/c/d",
  DOTS: "a.b.c",
  QUOTED: 'x"y',
};
const lookup = (name: string) => (Object.hasOwn(ENV, name) ? ENV[name] : undefined);

interface Case {
  line: number;
  input: string;
  expected: string;
}

// Fixture format: `input |> expected`, `#` lines are comments.
function loadCases(name: string): Case[] {
  const text = readFileSync(join(import.meta.dir, "testdata", name), "utf8");
  const cases: Case[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw === "" || raw.startsWith("#")) return;
    const m = /^(.*?) \|>(?: (.*))?$/.exec(raw);
    if (!m) throw new Error(`${name}:${i + 1}: not a case: ${raw}`);
    cases.push({ line: i + 1, input: m[1], expected: m[2] ?? "" });
  });
  return cases;
}

function check(c: Case, run: () => unknown, format: (v: unknown) => string) {
  if (c.expected.startsWith("!")) {
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpansionError);
    expect((err as Error).message).toContain(c.expected.slice(1));
    return;
  }
  expect(format(run())).toBe(c.expected);
}

describe("expand (testdata/expand.txt)", () => {
  const cases = loadCases("expand.txt");
  test("has enough cases", () => expect(cases.length).toBeGreaterThanOrEqual(150));
  for (const c of cases) {
    test(`line ${c.line}: ${c.input}`, () => check(c, () => expand(c.input, lookup), String));
  }
});

describe("expand with backtick escape (testdata/expand-backtick.txt)", () => {
  for (const c of loadCases("expand-backtick.txt")) {
    test(`line ${c.line}: ${c.input}`, () => check(c, () => expand(c.input, lookup, { escape: "`" }), String));
  }
});

describe("expandWords (testdata/words.txt)", () => {
  for (const c of loadCases("words.txt")) {
    test(`line ${c.line}: ${c.input}`, () => check(c, () => expandWords(c.input, lookup), (v) => JSON.stringify(v)));
  }
});

describe("options", () => {
  test("errors name the word", () => {
    expect(() => expand("x${NOPE?}", lookup)).toThrow('failed to process "x${NOPE?}": NOPE: is not allowed to be unset');
  });
  test("skipQuotes keeps quotes as text but still expands", () => {
    expect(expand(`echo "$A" '$B'`, lookup, { skipQuotes: true })).toBe(`echo "a" 'b'`);
  });
  test("rawQuotes keeps quotes in the output", () => {
    expect(expand(`"a b"'c'`, lookup, { rawQuotes: true })).toBe(`"a b"'c'`);
  });
  test("rawEscapes keeps escape tokens", () => {
    expect(expand(`a\\ b`, lookup, { rawEscapes: true })).toBe(`a\\ b`);
  });
  test("skipUnset leaves unset variables as written", () => {
    expect(expand("$NOPE ${NOPE} ${NOPE:-x} $A", lookup, { skipUnset: true })).toBe("$NOPE ${NOPE} ${NOPE:-x} a");
  });
  test("an invalid escape token is rejected", () => {
    expect(() => expand("x", lookup, { escape: "/" })).toThrow(ExpansionError);
  });
  test("lookup is called only for referenced names", () => {
    const seen: string[] = [];
    expand("$A ${B:-x} '$C'", (n) => (seen.push(n), undefined));
    expect(seen).toEqual(["A", "B"]);
  });
});

describe("limits", () => {
  test("${...} nested deeper than MAX_NESTING is refused in a short message; as deep as the cap expands", () => {
    const nest = (n: number) => "${X:-".repeat(n) + "v" + "}".repeat(n);
    expect(expand(nest(MAX_NESTING), lookup)).toBe("v");
    let err: Error | undefined;
    try { expand(nest(20_000), lookup); } catch (e) { err = e as Error; }
    expect(err).toBeInstanceOf(ExpansionError);
    expect(err!.message).toEndWith(`nested more than ${MAX_NESTING} levels deep`);
    expect(err!.message.length).toBeLessThan(400);
  });
  test("long words expand whole, with quotes, escapes, variables and characters outside the BMP", () => {
    const long = "é𝐀b".repeat(100_000);
    expect(expand(`${long}"$A ${long}"'${long}'\\ $A`, lookup)).toBe(`${long}a ${long}${long} a`);
    expect(expandWords(`${long} "x y" ${long}$A`, lookup)).toEqual([long, "x y", `${long}a`]);
  });
});
