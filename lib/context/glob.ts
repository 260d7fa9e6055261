// Go-style glob patterns (`*` and `?` within one path element, `[...]` classes read as Go's filepath.Match reads
// them, plus `!` negation, `\` escapes) plus `**` across elements, as Docker's patternmatcher reads them; COPY
// sources and .dockerignore share it. The class rules are lib/shell's parseClass, in its "go" dialect.
import { parseClass, PatternError } from "../shell/mod.ts";
import { ContextError } from "./context.ts";

/** The regular-expression source (unanchored) for a glob pattern; a pattern Go's Match rejects is a ContextError. */
export function globSource(pattern: string): string {
  const chars = Array.from(pattern);
  let re = "";
  try {
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c === "*") {
        if (chars[i + 1] === "*") {
          i++;
          if (chars[i + 1] === "/") { i++; re += "(?:.*/)?"; } else re += ".*";
        } else re += "[^/]*";
      } else if (c === "?") re += "[^/]";
      else if (c === "[") {
        const cls = parseClass(chars, i, "go")!;
        re += cls.source;
        i = cls.end;
      } else if (c === "\\") {
        if (i + 1 >= chars.length) throw new PatternError("a trailing \\ escapes nothing");
        re += chars[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"); // `\d` is a "d", not a digit
      } else re += c.replace(/[.+^${}()|]/g, "\\$&");
    }
  } catch (e) {
    if (e instanceof PatternError) throw new ContextError(`pattern "${pattern}": ${e.message} (Go's filepath.Match rules, as Docker uses)`);
    throw e;
  }
  return re;
}
