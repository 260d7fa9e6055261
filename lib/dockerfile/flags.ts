// Builder flags (`--chown=x`, `--link`, `--mount=...`) checked against what each instruction accepts.
import { ParseFailure } from "./errors.ts";
import { suggest } from "./suggest.ts";

export type FlagType = "bool" | "string" | "strings";
export type FlagSpec = Record<string, FlagType>;

export interface ParsedFlags {
  bool(name: string): boolean | undefined;
  string(name: string): string | undefined;
  strings(name: string): string[];
}

export function parseFlags(args: string[], spec: FlagSpec): ParsedFlags {
  const bools = new Map<string, boolean>();
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const used = new Set<string>();
  for (const arg of args) {
    if (!arg.startsWith("--")) throw new ParseFailure(`arg should start with -- : ${arg}`);
    if (arg === "--") break;
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const value = eq >= 0 ? body.slice(eq + 1) : "";
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const hint = suggest(name, Object.keys(spec));
      throw new ParseFailure(`unknown flag: ${name}${hint ? ` (did you mean ${hint}?)` : ""}`);
    }
    if (used.has(name) && type !== "strings") throw new ParseFailure(`duplicate flag specified: ${name}`);
    used.add(name);
    switch (type) {
      case "bool": {
        if (eq >= 0 && value === "") throw new ParseFailure(`missing a value on flag: ${name}`);
        const lower = value.toLowerCase();
        if (lower === "" || lower === "true") bools.set(name, true);
        else if (lower === "false") bools.set(name, false);
        else throw new ParseFailure(`expecting boolean value for flag ${name}, not: ${value}`);
        break;
      }
      case "string":
        if (eq < 0) throw new ParseFailure(`missing a value on flag: ${name}`);
        strings.set(name, value);
        break;
      case "strings":
        if (eq < 0) throw new ParseFailure(`missing a value on flag: ${name}`);
        lists.set(name, [...(lists.get(name) ?? []), value]);
        break;
    }
  }
  return {
    bool: (n) => bools.get(n),
    string: (n) => strings.get(n),
    strings: (n) => lists.get(n) ?? [],
  };
}
