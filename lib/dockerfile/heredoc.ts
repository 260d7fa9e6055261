// Heredoc headers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) in RUN, COPY and ADD lines.
import { expandWords } from "../shell/mod.ts";
import { parseJSONArray, splitCommand } from "./words.ts";

export interface HeredocHeader {
  name: string;
  expand: boolean;
  chomp: boolean;
  fd: number;
}

const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const HEREDOC_KINDS = new Set(["run", "copy", "add"]);
const none = () => undefined;

/** Parses one word as a heredoc header; undefined when it is not one. */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  const m = HEREDOC.exec(word);
  if (!m || m[3] === "") return undefined;
  const rest = m[3];
  // Fast path: a plain delimiter needs no lexing.
  if (/^[A-Za-z0-9_.-]+$/.test(rest)) return { name: rest, expand: true, chomp: m[2] === "-", fd: m[1] === "" ? 0 : Number(m[1]) };
  // Lex the delimiter with and without keeping quotes: if the counts of quote characters differ,
  // part of it was quoted, and a quoted delimiter means the body is not expanded.
  const words = expandWords(rest, none, { skipUnset: true });
  if (words.length !== 1) return undefined;
  const raw = expandWords(rest, none, { skipUnset: true, rawQuotes: true });
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0],
    expand: quotes(words[0]) === quotes(raw[0] ?? ""),
    chomp: m[2] === "-",
    fd: m[1] === "" ? 0 : Number(m[1]),
  };
}

/** The heredocs a logical line opens, in order; empty when the instruction cannot hold heredocs. */
export function heredocsInLine(line: string): HeredocHeader[] {
  if (!line.includes("<<")) return [];
  let { cmd, args } = splitCommand(line);
  // ONBUILD RUN <<EOF ... carries the heredoc of its trigger.
  if (cmd.toLowerCase() === "onbuild") ({ cmd, args } = splitCommand(args));
  if (!HEREDOC_KINDS.has(cmd.toLowerCase())) return [];
  try {
    if (parseJSONArray(args) !== undefined) return [];
  } catch {
    return [];
  }
  const words = lineWords(line);
  const out: HeredocHeader[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

// The line's words with quotes and escapes kept, as BuildKit lexes it to find heredoc words.
function lineWords(line: string): string[] {
  // Without quotes, `$` or `\` lexing is plain whitespace splitting; skip the lexer.
  if (!/["'$\\]/.test(line)) return line.trim().split(/\s+/);
  try {
    // BuildKit always uses `\` here, whatever the escape directive says.
    return expandWords(line, () => "", { rawQuotes: true, rawEscapes: true });
  } catch {
    return [];
  }
}

/** Removes leading tabs from every line (`<<-`). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, "");
}
