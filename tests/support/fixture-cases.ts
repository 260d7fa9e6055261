// Test support for lib/dockerfile: the case files under lib/dockerfile/testdata/ (parse.txt, expand.txt) and the partial comparison
// their checks use. A case is "=== title", the Dockerfile text, then "--- <path>" lines each
// followed by one JSON line; "--- env" gives the variables for expansion instead of a check.

export interface FixtureCase {
  title: string;
  /** 1-based line of the "===" header, for the test name. */
  line: number;
  input: string;
  env: Record<string, string>;
  checks: { path: string; expected: unknown }[];
}

export function parseFixtureCases(text: string): FixtureCase[] {
  const lines = text.split("\n");
  const cases: FixtureCase[] = [];
  let current: FixtureCase | undefined;
  let body: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith("=== ")) {
      current = { title: l.slice(4), line: i + 1, input: "", env: {}, checks: [] };
      body = [];
      cases.push(current);
    } else if (!current) continue;
    else if (l.startsWith("--- ")) {
      // The first "---" line ends the Dockerfile text.
      if (body) current.input = body.join("\n") + "\n";
      body = undefined;
      if (l === "--- env") current.env = JSON.parse(lines[++i]);
      else current.checks.push({ path: l.slice(4), expected: JSON.parse(lines[++i]) });
    } else body?.push(l);
  }
  return cases;
}

/** The value at a dotted path ("stages.0.instructions.1.args"). */
export function at(value: unknown, path: string): unknown {
  let v: any = value;
  for (const key of path.split(".")) v = v?.[key];
  return v;
}

/** Keeps only the fields the expectation names, so toEqual reports a readable diff of just those. */
export function project(actual: unknown, expected: unknown): unknown {
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
