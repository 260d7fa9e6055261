// Dockerfile word expansion, following the rules of BuildKit's shell lexer (a small subset of POSIX sh):
// quotes, the escape token, `$NAME`, `${NAME}` and the `${NAME<op>word}` forms. No command substitution,
// no arithmetic, no tilde or pathname expansion.
import { ExpansionError } from "./errors.ts";
import { replace, trimPrefix, trimSuffix } from "./pattern.ts";

export type Lookup = (name: string) => string | undefined;

export interface ExpandOptions {
  /** The Dockerfile escape token: `\` (default) or a backtick. */
  escape?: string;
  /** Quotes are ordinary characters (heredoc bodies are expanded this way). */
  skipQuotes?: boolean;
  /** Quotes are honoured but kept in the output (used to find heredoc words in a line). */
  rawQuotes?: boolean;
  /** Escape tokens are honoured but kept in the output. */
  rawEscapes?: boolean;
  /** Unset variables stay as written (`$X`, `${X:-y}`) instead of expanding to "". */
  skipUnset?: boolean;
}

const EOF = "";

/**
 * How deep `${...}` may nest inside one another. BuildKit's Go lexer has no limit of its own; each level here
 * costs a few JavaScript stack frames, which run out near 5,000. Real Dockerfiles nest two or three deep.
 */
export const MAX_NESTING = 500;

// Failures inside the lexer carry only the reason; the public functions add the word.
class LexFailure extends Error {}

// Collects words the way BuildKit does: characters from variable values split on whitespace,
// quoted text and escaped characters never do.
class Words {
  word = "";
  words: string[] = [];
  inWord = false;

  addChar(ch: string) {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = "";
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }
  addRawChar(ch: string) {
    this.word += ch;
    this.inWord = true;
  }
  /** A variable's value: split on its whitespace, the rest added in runs. */
  addString(s: string) {
    let i = 0;
    while (i < s.length) {
      if (isSpace(s[i])) {
        this.addChar(s[i++]);
        continue;
      }
      let j = i + 1;
      while (j < s.length && !isSpace(s[j])) j++;
      this.addRawString(s.slice(i, j));
      i = j;
    }
  }
  addRawString(s: string) {
    this.word += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = "";
      this.inWord = false;
    }
    return this.words;
  }
}

// ASCII fast paths first: these run once per character of every expanded word.
const isSpace = (ch: string) => {
  if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") return true;
  return ch !== EOF && ch.charCodeAt(0) > 127 && /^\s$/u.test(ch) || ch === "\v" || ch === "\f";
};
const isDigit = (ch: string) => (ch >= "0" && ch <= "9" && ch.length === 1) || (ch.charCodeAt(0) > 127 && /^\p{Nd}$/u.test(ch));
const isLetter = (ch: string) =>
  ((ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z")) && ch.length === 1 ? true : ch.charCodeAt(0) > 127 && /^\p{L}$/u.test(ch);
const isSpecialParam = (ch: string) => "@*#?-$!0".includes(ch) && ch !== EOF;

// The character at i: a surrogate pair as one string (BuildKit reads runes), EOF past the end.
function charAt(s: string, i: number): string {
  if (i >= s.length) return EOF;
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? s.slice(i, i + 2) : s[i];
}

// Works on the text by index and copies runs of plain characters as slices: per-character arrays and
// concatenation made a 10 MB line cost seconds and hundreds of megabytes.
class Lexer {
  private pos = 0;
  private depth = 0;
  private readonly escape: string;

  constructor(private readonly text: string, private readonly lookup: Lookup, private readonly opts: ExpandOptions) {
    this.escape = opts.escape ?? "\\";
  }

  private peek(): string {
    return charAt(this.text, this.pos);
  }
  private next(): string {
    const ch = charAt(this.text, this.pos);
    this.pos += ch.length;
    return ch;
  }
  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** End of the run from pos of characters none of which `special` matches. */
  private runEnd(special: (ch: string) => boolean): number {
    let j = this.pos;
    while (j < this.text.length && !special(this.text[j])) j++;
    return j;
  }

  /** Reads until `stop` (consumed) or the end; returns the text and the split words. */
  processStopOn(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    let result = "";
    const words = new Words();
    while (!this.atEnd()) {
      const ch = this.peek();
      if (stop !== EOF && ch === stop) {
        this.next();
        return { text: result, words: words.finish() };
      }
      if (ch === "$") {
        const v = this.processDollar();
        result += v;
        words.addString(v);
      } else if ((ch === "'" || ch === '"') && !this.opts.skipQuotes) {
        const v = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        result += v;
        words.addRawString(v);
      } else if (ch !== this.escape && !isSpace(ch)) {
        const quotes = !this.opts.skipQuotes;
        const end = this.runEnd((c) => c === "$" || c === stop || c === this.escape || ((c === "'" || c === '"') && quotes) || isSpace(c));
        const run = this.text.slice(this.pos, end);
        this.pos = end;
        result += run;
        words.addRawString(run);
      } else {
        let c = this.next();
        if (c === this.escape) {
          if (rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          c = this.next();
          // An escape token at the very end is dropped.
          if (c === EOF) break;
          words.addRawChar(c);
        } else words.addChar(c);
        result += c;
      }
    }
    if (stop !== EOF) throw new LexFailure(`unexpected end of statement while looking for matching ${stop}`);
    return { text: result, words: words.finish() };
  }

  // Everything between single quotes is literal; a single quote cannot be escaped inside.
  private processSingleQuote(): string {
    const raw = this.opts.rawQuotes === true;
    this.next();
    const end = this.text.indexOf("'", this.pos);
    if (end < 0) {
      this.pos = this.text.length; // read to the end, as the callers' "missing }" check expects
      throw new LexFailure("unexpected end of statement while looking for matching single-quote");
    }
    const s = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return raw ? `'${s}'` : s;
  }

  // Inside double quotes only `$` expands, and the escape token escapes only `"`, `$` and itself.
  private processDoubleQuote(): string {
    const raw = this.opts.rawQuotes === true;
    let s = raw ? '"' : "";
    this.next();
    for (;;) {
      if (this.atEnd()) throw new LexFailure("unexpected end of statement while looking for matching double-quote");
      const ch = this.peek();
      if (ch === '"') {
        this.next();
        return raw ? s + '"' : s;
      }
      if (ch === "$") {
        s += this.processDollar();
        continue;
      }
      if (ch !== this.escape) {
        const end = this.runEnd((c) => c === '"' || c === "$" || c === this.escape);
        s += this.text.slice(this.pos, end);
        this.pos = end;
        continue;
      }
      let c = this.next();
      if (c === this.escape) {
        const n = this.peek();
        if (n === EOF) continue;
        if (n === '"' || n === "$" || n === this.escape) {
          if (this.opts.rawEscapes) s += c;
          c = this.next();
        }
      }
      s += c;
    }
  }

  private processName(): string {
    let name = "";
    while (!this.atEnd()) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        // Positional parameters: all leading digits form the name.
        while (isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += this.next();
    }
    return name;
  }

  private get(name: string): string | undefined {
    return this.lookup(name);
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== "{") return this.processPlainDollar();
    if (++this.depth > MAX_NESTING) throw new LexFailure(`\${...} nested more than ${MAX_NESTING} levels deep`);
    try {
      return this.processBraces();
    } finally {
      this.depth--;
    }
  }

  private processPlainDollar(): string {
    const name = this.processName();
    if (name === "") return "$";
    const v = this.get(name);
    if (v === undefined && this.opts.skipUnset) return "$" + name;
    return v ?? "";
  }

  private processBraces(): string {
    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new LexFailure("syntax error: bad substitution");
    const name = this.processName();
    let ch = this.next();
    let op = ch;
    switch (ch) {
      case "}": {
        const v = this.get(name);
        if (v === undefined && this.opts.skipUnset) return "${" + name + "}";
        return v ?? "";
      }
      case ":":
      case "+":
      case "-":
      case "?":
      case "#":
      case "%": {
        const nullIsUnset = ch === ":";
        if (nullIsUnset) {
          ch = this.next();
          op += ch;
        }
        const rawEscapes = ch === "#" || ch === "%";
        if (nullIsUnset && rawEscapes) throw new LexFailure(`unsupported modifier (${op}) in substitution`);
        const word = this.stopOrMissing("}", rawEscapes, "syntax error: missing '}'");
        const value = this.get(name);
        if (value === undefined && this.opts.skipUnset) return "${" + name + op + word + "}";
        const unset = value === undefined || (nullIsUnset && value === "");
        switch (ch) {
          case "-":
            return unset ? word : value!;
          case "+":
            return unset ? "" : word;
          case "?":
            if (value === undefined) throw new LexFailure(`${name}: ${word || "is not allowed to be unset"}`);
            if (nullIsUnset && value === "") throw new LexFailure(`${name}: ${word || "is not allowed to be empty"}`);
            return value;
          case "#":
          case "%": {
            let pattern = word;
            // `##` and `%%` remove the longest match, single ones the shortest.
            const greedy = pattern.startsWith(ch);
            if (greedy) pattern = pattern.slice(1);
            try {
              return ch === "%" ? trimSuffix(pattern, value ?? "", greedy) : trimPrefix(pattern, value ?? "", greedy);
            } catch (e) {
              throw new LexFailure(`invalid pattern (${pattern}) in substitution: ${(e as Error).message}`);
            }
          }
          default:
            throw new LexFailure(`unsupported modifier (${op}) in substitution`);
        }
      }
      case "/": {
        const all = this.peek() === "/";
        if (all) this.next();
        const pattern = this.stopOrMissing("/", true, "syntax error: missing '/' in ${}");
        const replacement = this.stopOrMissing("}", false, "syntax error: missing '}'");
        const value = this.get(name) ?? "";
        try {
          return replace(pattern, value, replacement, all);
        } catch (e) {
          throw new LexFailure(`invalid pattern (${pattern}) in substitution: ${(e as Error).message}`);
        }
      }
      case EOF:
        throw new LexFailure("syntax error: missing '}'");
      default:
        throw new LexFailure(`unsupported modifier (${op}) in substitution`);
    }
  }

  private stopOrMissing(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).text;
    } catch (e) {
      if (e instanceof LexFailure && this.atEnd()) throw new LexFailure(missing);
      throw e;
    }
  }
}

function isPlain(word: string, escape: string): boolean {
  if (escape !== "\\" && escape !== "`") return false; // let run() reject it
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (c === "$" || c === "'" || c === '"' || c === escape) return false;
  }
  return true;
}

function run(word: string, lookup: Lookup, opts: ExpandOptions): { text: string; words: string[] } {
  const escape = opts.escape ?? "\\";
  if (escape !== "\\" && escape !== "`") throw new ExpansionError(word, `invalid escape token ${JSON.stringify(escape)}: use \\ or \``);
  try {
    return new Lexer(word, lookup, opts).processStopOn(EOF, opts.rawEscapes === true);
  } catch (e) {
    if (e instanceof LexFailure) throw new ExpansionError(word, e.message);
    throw e;
  }
}

/** Expands one word: variables substituted, quotes and escape tokens removed, no splitting. */
export function expand(word: string, lookup: Lookup, opts: ExpandOptions = {}): string {
  // Most words (keys, plain values) hold nothing to expand: no lexer for them.
  if (isPlain(word, opts.escape ?? "\\")) return word;
  return run(word, lookup, opts).text;
}

/**
 * Expands a text and splits it into words on unquoted whitespace, including whitespace that comes
 * from unquoted variable values (BuildKit's ProcessWords). Empty quoted words (`""`) produce nothing.
 */
export function expandWords(text: string, lookup: Lookup, opts: ExpandOptions = {}): string[] {
  return run(text, lookup, opts).words;
}
