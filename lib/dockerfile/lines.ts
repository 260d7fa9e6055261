// Text -> logical lines: parser directives, comments, line continuations and heredoc bodies,
// each logical line with its first and last physical line number.
import { ParseFailure } from "./errors.ts";
import { chompHeredoc, heredocsInLine } from "./heredoc.ts";
import type { Heredoc, Warning } from "./types.ts";

export interface LogicalLine {
  text: string;
  line: number;
  endLine: number;
  heredocs: Heredoc[];
}

export interface Lines {
  escape: string;
  directives: Record<string, string>;
  warnings: Warning[];
  lines: LogicalLine[];
}

/** A failure tied to a physical line range, before the file name is known. */
export class LineFailure extends Error {
  constructor(readonly reason: string, readonly line: number, readonly endLine: number) {
    super(reason);
  }
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(["syntax", "escape", "check"]);
const isComment = (s: string) => s.trimStart().startsWith("#");

// Directives are read only from the first lines; the first line that is not a known directive ends them.
class Directives {
  done = false;
  escape = "\\";
  continuation = /\\[ \t]*$/;
  readonly values: Record<string, string> = {};

  see(line: string) {
    if (this.done) return;
    const m = DIRECTIVE.exec(line);
    const key = m?.[1].toLowerCase();
    if (!m || !key || !KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    if (key in this.values) throw new ParseFailure(`only one ${key} parser directive can be used`);
    this.values[key] = m[2];
    if (key === "escape") {
      if (m[2] !== "`" && m[2] !== "\\") throw new ParseFailure(`invalid escape token '${m[2]}' does not match \` or \\`);
      this.escape = m[2];
      this.continuation = m[2] === "`" ? /`[ \t]*$/ : /\\[ \t]*$/;
    }
  }

  /** Strips a trailing escape token; reports whether the line continues. */
  trimContinuation(line: string): [string, boolean] {
    const m = this.continuation.exec(line);
    return m ? [line.slice(0, m.index), true] : [line, false];
  }
}

export function splitLines(text: string): Lines {
  const physical = text.split("\n");
  // A trailing newline does not start another line.
  if (physical.length > 0 && physical[physical.length - 1] === "") physical.pop();
  const warnings: Warning[] = [];
  const lines: LogicalLine[] = [];
  const d = new Directives();
  let i = 0;
  const read = (): string => {
    let s = physical[i++];
    if (s.endsWith("\r")) s = s.slice(0, -1);
    return s;
  };
  const withLine = <T>(line: number, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ParseFailure) throw new LineFailure(e.message, line, line);
      throw e;
    }
  };

  while (i < physical.length) {
    let raw = read();
    if (i === 1) raw = raw.replace(/^\uFEFF/, "");
    const start = i;
    const stripped = raw.replace(/^\s+/, "");
    withLine(start, () => d.see(stripped));
    if (isComment(stripped)) continue;
    let [line, continues] = d.trimContinuation(stripped);
    if (!continues && line.length === 0) continue;

    let emptyContinuation = false;
    while (continues && i < physical.length) {
      const next = read();
      withLine(i, () => d.see(next));
      if (isComment(next)) continue;
      if (next.trim() === "") {
        emptyContinuation = true;
        continue;
      }
      const [part, more] = d.trimContinuation(next);
      line += part;
      continues = more;
    }
    if (emptyContinuation) {
      warnings.push({ rule: "NoEmptyContinuation", message: `Empty continuation line found in: ${line}`, line: i });
    }

    const heredocs: Heredoc[] = [];
    for (const h of heredocsInLine(line)) {
      let content = "";
      let terminated = false;
      while (i < physical.length) {
        const body = physical[i++];
        let candidate = body.endsWith("\r") ? body.slice(0, -1) : body;
        if (h.chomp) candidate = candidate.replace(/^\t+/, "");
        if (candidate === h.name) {
          terminated = true;
          break;
        }
        content += body + "\n";
      }
      if (!terminated) throw new LineFailure("unterminated heredoc", start, i);
      heredocs.push({ ...h, content: h.chomp ? chompHeredoc(content) : content });
    }
    lines.push({ text: line, line: start, endLine: i, heredocs });
  }
  return { escape: d.escape, directives: d.values, warnings, lines };
}
