// Dockerfile word rules: variable expansion, quoting, the escape token and word splitting.
export { expand, expandWords } from "./lex.ts";
export type { ExpandOptions, Lookup } from "./lex.ts";
export { ExpansionError } from "./errors.ts";
