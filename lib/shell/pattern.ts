// Shell glob patterns used by ${V#p}, ${V%p} and ${V/p/r}, turned into JS regular expressions.
// Supported like BuildKit: `*`, `?`, `[...]` classes, and `\` escaping `*`, `?`, `\`, `[`, `]`.
// The `[...]` class parser is shared with lib/context's globs (.dockerignore, COPY sources), which read classes
// as Go's filepath.Match does; parseClass's dialect names the differences.

/** A pattern that cannot be matched: a bad class, a reversed range, a trailing escape. */
export class PatternError extends Error {
  override name = "PatternError";
}

const META = /[.*+?^${}()|[\]\\\/]/g;
const quote = (s: string) => s.replace(META, "\\$&");
const classQuote = (c: string) => (c === "-" ? "\\-" : quote(c));

/** Converts a glob to a regex source. `greedy` picks `.*` over `.*?` for `*`. */
export function globToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  const star = greedy ? "[\\s\\S]*" : "[\\s\\S]*?";
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "*") out += star;
    else if (c === "?") out += "[\\s\\S]";
    else if (c === "\\") {
      // `\}` and `\/` only protect the ${} syntax; the backslash is not part of the pattern.
      const next = chars[i + 1];
      if (next === "}" || next === "/") continue;
      if (next === undefined) throw new PatternError("invalid escape at end of pattern");
      i++;
      out += quote(next);
    } else if (c === "[") {
      const cls = parseClass(chars, i, "shell");
      if (!cls) {
        out += "\\[";
        continue;
      }
      out += cls.source;
      i = cls.end;
    } else out += quote(c);
  }
  try {
    return new RegExp(out, "u");
  } catch (e) {
    throw new PatternError((e as Error).message);
  }
}

/**
 * Where Docker's globs (Go's filepath.Match, `go`) and the shell's (`shell`) read a bracket class differently:
 *
 * | | shell | go |
 * |---|---|---|
 * | `[]a]` | `]` first is a member | ErrBadPattern (a class cannot be empty) |
 * | `[\]]`, `[\-]` | `\` is a member | `\` escapes the next character |
 * | `[-a]`, `[a-]` | a `-` at either end is a member | ErrBadPattern (an unescaped `-` must be a range) |
 * | `a[b` (no `]`) | the `[` is literal | ErrBadPattern |
 *
 * Both take `^` and `!` for negation (Go's Match knows only `^`; kiln's .dockerignore has always taken `!` too),
 * ranges `lo-hi` by code point, and reject a reversed range.
 */
export type ClassDialect = "shell" | "go";

/**
 * Parses the class whose `[` is at chars[open]: its regular-expression source and the index of its `]`.
 * Undefined when the shell takes the `[` literally; a PatternError where Go's Match returns ErrBadPattern.
 */
export function parseClass(chars: readonly string[], open: number, dialect: ClassDialect): { source: string; end: number } | undefined {
  const go = dialect === "go";
  const bad = (why: string) => { throw new PatternError(`bad [...] class: ${why}`); };
  let j = open + 1;
  // The shell negates with `^` or `!`; Go (and so Docker, checked against BuildKit) only with `^`: `[!a]` is `!` or `a`.
  const negate = chars[j] === "^" || (!go && chars[j] === "!");
  if (negate) j++;
  // One member: in Go's dialect `\` escapes the next character, and a bare `-` or `]` cannot be one.
  const member = (): string | undefined => {
    if (j >= chars.length) return go ? bad("missing ]") : undefined;
    let c = chars[j++];
    if (go && c === "\\") {
      if (j >= chars.length) return bad("missing ]");
      c = chars[j++];
    } else if (go && (c === "-" || c === "]")) return bad(`unescaped "${c}"`);
    return c;
  };
  let out = "";
  for (let first = true; ; first = false) {
    if (j >= chars.length) return go ? bad("missing ]") : undefined;
    if (chars[j] === "]" && !(first && !go)) {
      if (first) return bad("empty class");
      break;
    }
    const lo = member();
    if (lo === undefined) return undefined;
    if (chars[j] === "-" && j + 1 < chars.length && (go || chars[j + 1] !== "]")) {
      j++;
      const hi = member();
      if (hi === undefined) return undefined;
      if (lo.codePointAt(0)! > hi.codePointAt(0)!) bad(`range ${lo}-${hi} is reversed`);
      out += `${classQuote(lo)}-${classQuote(hi)}`;
    } else out += classQuote(lo);
  }
  return { source: `[${negate ? "^" : ""}${out}]`, end: j };
}

/** Reverses a pattern but keeps `\x` escapes together, so `a\*c` becomes `c\*a`. */
function reversePattern(pattern: string): string {
  const tokens: string[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === "\\" && i + 1 < chars.length) {
      tokens.push(chars[i] + chars[i + 1]);
      i++;
    } else if (chars[i] === "[") {
      const cls = parseClass(chars, i, "shell");
      if (!cls) tokens.push("\\[");
      else {
        tokens.push(chars.slice(i, cls.end + 1).join(""));
        i = cls.end;
      }
    } else tokens.push(chars[i]);
  }
  return tokens.reverse().join("");
}

const reverse = (s: string) => Array.from(s).reverse().join("");

export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = globToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

// Regexes find the leftmost match only, so the shortest/longest suffix is found by reversing both.
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

export function replace(pattern: string, value: string, replacement: string, all: boolean): string {
  const re = globToRegex(pattern, true, false);
  if (!all) {
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
  // Like Go's ReplaceAllString: an empty match right after a previous match is not a match.
  let out = "";
  let pos = 0;
  let lastEnd = -1;
  for (const m of value.matchAll(new RegExp(re.source, "gu"))) {
    if (m[0].length === 0 && m.index === lastEnd) continue;
    out += value.slice(pos, m.index) + replacement;
    pos = lastEnd = m.index + m[0].length;
  }
  return out + value.slice(pos);
}
