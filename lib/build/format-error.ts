// One clear line per failure for the CLI: typed errors already carry file, line and advice in their message.
export function formatError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const f = (e as { format?: () => string }).format;
  return typeof f === "function" ? f.call(e) : e.message;
}
