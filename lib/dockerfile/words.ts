// Low-level splitting of one logical Dockerfile line, as BuildKit's parser does it before any expansion:
// instruction name, builder flags (`--x=y`), whitespace- or quote-aware words, JSON arrays.
import { ParseFailure } from "./errors.ts";

const WHITESPACE = /[\t\v\f\r ]+/;
const isSpace = (ch: string) =>
  ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\v" || ch === "\f" || (ch.charCodeAt(0) > 127 && /^\s$/u.test(ch));

export interface SplitLine {
  cmd: string;
  flags: string[];
  args: string;
}

/** `RUN --mount=x echo hi` -> { cmd: "RUN", flags: ["--mount=x"], args: "echo hi" }. */
export function splitCommand(line: string): SplitLine {
  const trimmed = line.trim();
  const m = WHITESPACE.exec(trimmed);
  if (!m) return { cmd: trimmed, flags: [], args: "" };
  const cmd = trimmed.slice(0, m.index);
  const { rest, flags } = extractBuilderFlags(trimmed.slice(m.index + m[0].length));
  return { cmd, flags, args: rest.trim() };
}

/**
 * Takes the leading `--flag[=value]` words off a line. Quotes and `\` inside a flag word are removed;
 * a bare `--` ends the flags.
 */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  const n = line.length;
  for (;;) {
    while (pos < n && isSpace(line[pos])) pos++;
    if (pos >= n) return { rest: "", flags };
    if (!(line[pos] === "-" && line[pos + 1] === "-")) return { rest: line.slice(pos), flags };
    let word = "";
    let blankOK = false;
    let quote = "";
    while (pos < n) {
      const ch = line[pos];
      if (quote !== "") {
        if (ch === quote) quote = "";
        else if (ch === "\\") {
          if (pos + 1 === n) quote = "";
          else word += line[++pos];
        } else word += ch;
        pos++;
        continue;
      }
      if (isSpace(ch)) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      } else if (ch === "\\") {
        if (pos + 1 < n) word += line[++pos];
      } else word += ch;
      pos++;
    }
    if (word === "--") return { rest: line.slice(pos), flags };
    if (blankOK || word.length > 0) flags.push(word);
  }
}

/**
 * Splits on whitespace outside quotes, keeping quotes and escape tokens in the words (they are removed
 * later by expansion). Used for ENV/LABEL pairs and ARG. Runs of plain characters are copied as slices:
 * a generated line can be megabytes long.
 */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const n = rest.length;
  let word = "";
  let inWord = false;
  let quote = "";
  let blankOK = false;
  let i = 0;
  while (i < n) {
    const ch = rest[i];
    if (!inWord) {
      if (isSpace(ch)) {
        i++;
        continue;
      }
      inWord = true;
    }
    if (quote === "") {
      if (isSpace(ch)) {
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        inWord = false;
        i++;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        word += ch;
        i++;
      } else if (ch === escape) {
        // Unquoted escape: keep it and the next char, even a quote (a trailing one is dropped).
        if (i + 1 < n) word += ch + charAt(rest, i + 1);
        i += 1 + (i + 1 < n ? charAt(rest, i + 1).length : 0);
      } else {
        const end = plainRun(rest, i, (c) => c === "'" || c === '"' || c === escape || isSpace(c));
        word += rest.slice(i, end);
        i = end;
      }
      continue;
    }
    if (ch === quote) {
      quote = "";
      word += ch;
      i++;
    } else if (ch === escape && quote !== "'") {
      if (i + 1 === n) {
        quote = "";
        i++;
        continue;
      }
      const next = charAt(rest, i + 1);
      word += ch + next;
      i += 1 + next.length;
    } else {
      const q = quote;
      const end = plainRun(rest, i, (c) => c === q || c === escape);
      word += rest.slice(i, end);
      i = end;
    }
  }
  if (inWord && (blankOK || word.length > 0)) words.push(word);
  return words;
}

// The whole character at i (a surrogate pair stays together, as Array.from would have it).
function charAt(s: string, i: number): string {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? s.slice(i, i + 2) : s[i];
}

// The end of the run of characters from `i` that `stop` does not match (at least one character).
function plainRun(s: string, i: number, stop: (ch: string) => boolean): number {
  let j = i + 1;
  while (j < s.length && !stop(s[j])) j++;
  return j;
}

export function splitWhitespace(rest: string): string[] {
  const t = rest.trim();
  return t === "" ? [] : t.split(WHITESPACE);
}

export const NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only";

/**
 * Parses an exec-form JSON array. Returns undefined when the text is not a JSON array (the caller then
 * uses shell form); throws when it is an array holding something other than strings.
 */
export function parseJSONArray(rest: string): string[] | undefined {
  const t = rest.trimStart();
  if (!t.startsWith("[")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === "string")) throw new ParseFailure(NOT_STRING_ARRAY);
  return value as string[];
}
