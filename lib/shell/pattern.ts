// Shell glob patterns used by ${V#p}, ${V%p} and ${V/p/r}, turned into JS regular expressions.
// Supported like BuildKit: `*`, `?`, `[...]` classes, and `\` escaping `*`, `?`, `\`, `[`, `]`.

class PatternError extends Error {
  constructor(message: string) {
    super(message);
  }
}

const META = /[.*+?^${}()|[\]\\\/]/g;
const quote = (s: string) => s.replace(META, "\\$&");

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
      const end = classEnd(chars, i);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let body = chars.slice(i + 1, end);
      let negate = false;
      if (body[0] === "!" || body[0] === "^") {
        negate = true;
        body = body.slice(1);
      }
      out += "[" + (negate ? "^" : "") + body.map((ch) => (ch === "-" ? "-" : quote(ch))).join("") + "]";
      i = end;
    } else out += quote(c);
  }
  try {
    return new RegExp(out, "u");
  } catch (e) {
    throw new PatternError((e as Error).message);
  }
}

// A `]` right after `[` or `[!` is a literal member, as in sh.
function classEnd(chars: string[], open: number): number {
  let j = open + 1;
  if (chars[j] === "!" || chars[j] === "^") j++;
  if (chars[j] === "]") j++;
  for (; j < chars.length; j++) if (chars[j] === "]") return j;
  return -1;
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
      const end = classEnd(chars, i);
      if (end < 0) tokens.push("\\[");
      else {
        tokens.push(chars.slice(i, end + 1).join(""));
        i = end;
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
