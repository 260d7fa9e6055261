// .dockerignore rules as Docker's patternmatcher applies them: patterns are cleaned paths relative to the
// context root, `*` and `?` stay within one path element, `**` spans any number, `!` re-includes, the last
// matching rule wins, and a rule that matches a directory also matches everything below it.

import { globSource } from "./glob.ts";

interface Rule { negate: boolean; re: RegExp; segments: string[]; segmentRes: RegExp[] }

export function parseDockerignore(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

function cleanPattern(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/");
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${globSource(pattern)}(?:/.*)?$`);
}

export class IgnoreMatcher {
  readonly #rules: Rule[];
  constructor(patterns: string[]) {
    this.#rules = patterns.map((raw) => {
      const negate = raw.startsWith("!");
      const body = cleanPattern((negate ? raw.slice(1) : raw).trim());
      const segments = body.split("/");
      return { negate, re: globToRegExp(body), segments, segmentRes: segments.map(globToRegExp) };
    });
  }
  get empty(): boolean { return this.#rules.length === 0; }
  /** `rel` is a slash-separated path relative to the context root. */
  ignores(rel: string): boolean {
    let ignored = false;
    for (const r of this.#rules) if (r.negate === ignored && r.re.test(rel)) ignored = !r.negate;
    return ignored;
  }
  /** A directory may be skipped whole only when no `!` rule could re-include something below it. */
  get hasExceptions(): boolean { return this.#rules.some((r) => r.negate); }
  /**
   * Whether some `!` rule could match a path below the (ignored) directory `dir`, so it must be walked: its pattern
   * is longer than `dir` and its leading elements match dir's, or a `**` comes first (Docker's fsutil walks in then).
   */
  mayIncludeBelow(dir: string): boolean {
    const parts = dir.split("/");
    return this.#rules.some((r) => {
      if (!r.negate) return false;
      for (let i = 0; i < r.segments.length; i++) {
        if (r.segments[i].includes("**")) return true;
        if (i >= parts.length) return true; // the pattern goes deeper than dir, and everything so far matched
        if (!r.segmentRes[i].test(parts[i])) return false;
      }
      return false; // the pattern names dir or an ancestor: ignores() already decided
    });
  }
}
