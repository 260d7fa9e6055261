// The context folder's one error: a context that cannot be opened, fetched or unpacked, named as the user gave it.
export class ContextError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ContextError";
  }
}
