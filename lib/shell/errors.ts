/**
 * Raised when a word cannot be expanded: a syntax error inside `${...}`, an unterminated quote,
 * or a `${V?msg}` / `${V:?msg}` whose variable is unset (or empty).
 * `word` is the source word, so the caller can show which part of the instruction failed.
 */
export class ExpansionError extends Error {
  override readonly name = "ExpansionError";
  constructor(readonly word: string, readonly reason: string) {
    // Same shape as BuildKit's `failed to process "<word>": <reason>`.
    super(`failed to process ${JSON.stringify(clip(word))}: ${reason}`);
  }
}

// A word can be megabytes long (a generated line); the message shows its start.
function clip(word: string): string {
  return word.length > 200 ? `${word.slice(0, 200)}... (${word.length} characters)` : word;
}
