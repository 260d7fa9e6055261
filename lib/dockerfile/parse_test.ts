import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileError, formatError, parseDockerfile } from "./mod.ts";
import { at, parseFixtureCases, project, type FixtureCase } from "../../tests/support/fixture-cases.ts";

const TESTDATA = join(import.meta.dir, "testdata");

// See the header of testdata/parse.txt for the format.
function loadParseCases(): FixtureCase[] {
  const cases = parseFixtureCases(readFileSync(join(TESTDATA, "parse.txt"), "utf8"));
  for (const c of cases) {
    // Fixture files are LF-only; a CRLF case asks for the conversion.
    if (c.title.includes("CRLF")) c.input = c.input.replace(/\n/g, "\r\n");
    if (c.title.includes("without trailing newline")) c.input = c.input.replace(/\n$/, "");
    if (c.title.includes("at end of file")) c.input = c.input.replace(/\n$/, "");
  }
  return cases;
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

test("a megabyte-long LABEL line keeps its words whole: quotes, escapes, characters outside the BMP", () => {
  const long = "é𝐀b".repeat(250_000);
  const df = parseDockerfile(`FROM scratch\nLABEL a=${long} "b c"="${long} x" d=\\ ${long}\n`, { file: "Dockerfile" });
  const label = df.stages[0].instructions[0];
  expect(label.kind === "LABEL" && label.pairs).toEqual([
    { key: "a", value: long },
    { key: '"b c"', value: `"${long} x"` },
    { key: "d", value: `\\ ${long}` },
  ]);
});
