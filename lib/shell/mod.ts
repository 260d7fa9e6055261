// Dockerfile word rules: variable expansion, quoting, the escape token and word splitting.
export { expand, expandWords } from "./lex.ts";
export type { ExpandOptions, Lookup } from "./lex.ts";
export { ExpansionError } from "./errors.ts";
// The `[...]` class rules, shared with lib/context's Go-style globs.
export { parseClass, PatternError, type ClassDialect } from "./pattern.ts";
