import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileError, formatError, parseDockerfile } from "./mod.ts";

const TESTDATA = join(import.meta.dir, "testdata");

interface Check {
  path: string;
  expected: unknown;
}
interface Case {
  title: string;
  line: number;
  input: string;
  checks: Check[];
}

// See the header of testdata/parse.txt for the format.
function loadParseCases(): Case[] {
  const lines = readFileSync(join(TESTDATA, "parse.txt"), "utf8").split("\n");
  const cases: Case[] = [];
  let current: Case | undefined;
  let body: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith("=== ")) {
      current = { title: l.slice(4), line: i + 1, input: "", checks: [] };
      body = [];
      cases.push(current);
    } else if (!current) continue;
    else if (l.startsWith("--- ")) {
      if (current.checks.length === 0) current.input = body.join("\n") + "\n";
      current.checks.push({ path: l.slice(4), expected: JSON.parse(lines[++i]) });
    } else if (current.checks.length === 0) body.push(l);
  }
  for (const c of cases) {
    // Fixture files are LF-only; a CRLF case asks for the conversion.
    if (c.title.includes("CRLF")) c.input = c.input.replace(/\n/g, "\r\n");
    if (c.title.includes("without trailing newline")) c.input = c.input.replace(/\n$/, "");
    if (c.title.includes("at end of file")) c.input = c.input.replace(/\n$/, "");
  }
  return cases;
}

function at(value: unknown, path: string): unknown {
  let v: any = value;
  for (const key of path.split(".")) v = v?.[key];
  return v;
}

// Keeps only the fields the expectation names, so toEqual reports a readable diff of just those.
function project(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return actual;
    return actual.map((a, i) => project(a, expected[i]));
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Object.keys(expected).length === 0) return actual;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(expected)) out[k] = project((actual as Record<string, unknown>)[k], (expected as any)[k]);
    return out;
  }
  return actual;
}

describe("parse cases (testdata/parse.txt)", () => {
  const cases = loadParseCases();
  test("has enough cases", () => expect(cases.length).toBeGreaterThanOrEqual(60));
  for (const c of cases) {
    test(`${c.title} (parse.txt:${c.line})`, () => {
      expect(c.checks.length).toBeGreaterThan(0);
      const df = parseDockerfile(c.input, { file: "Dockerfile" });
      for (const check of c.checks) {
        expect({ path: check.path, value: project(at(df, check.path), check.expected) }).toEqual({
          path: check.path,
          value: check.expected,
        });
      }
    });
  }
});

describe("error cases (testdata/errors/)", () => {
  const dir = join(TESTDATA, "errors");
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".Dockerfile"))
    .map((f) => f.slice(0, -".Dockerfile".length));
  test("has enough cases", () => expect(names.length).toBeGreaterThanOrEqual(30));
  for (const name of names) {
    test(name, () => {
      const input = readFileSync(join(dir, `${name}.Dockerfile`), "utf8");
      const want = readFileSync(join(dir, `${name}.error`), "utf8").trim();
      let err: unknown;
      try {
        parseDockerfile(input, { file: "Dockerfile" });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DockerfileError);
      expect((err as DockerfileError).message).toStartWith(want);
    });
  }
});

describe("DockerfileError", () => {
  test("carries file, line and the offending source", () => {
    let err: DockerfileError | undefined;
    try {
      parseDockerfile("FROM busybox\nRUN true\nCOPY --nope=1 \\\n  a b\n", { file: "ci/Dockerfile" });
    } catch (e) {
      err = e as DockerfileError;
    }
    expect(err).toBeInstanceOf(DockerfileError);
    expect(err!.file).toBe("ci/Dockerfile");
    expect(err!.line).toBe(3);
    expect(err!.source).toBe("COPY --nope=1 \\\n  a b");
    expect(formatError(err!)).toBe("ci/Dockerfile:3: unknown flag: nope\n 3 | COPY --nope=1 \\\n 4 |   a b");
    expect(String(err)).toBe(formatError(err!));
  });
});
