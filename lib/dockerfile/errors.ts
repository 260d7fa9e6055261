/**
 * A Dockerfile that cannot be parsed (or an instruction whose expansion failed).
 * `line` is 1-based; `source` is the offending source line(s) as written.
 */
export class DockerfileError extends Error {
  override readonly name = "DockerfileError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly source: string = "",
  ) {
    super(`${file}:${line}: ${reason}`);
  }

  override toString(): string {
    return formatError(this);
  }
}

/** One line with the `file:line` prefix, then the offending source with its line numbers. */
export function formatError(err: DockerfileError): string {
  const lines = err.source === "" ? [] : err.source.replace(/\n$/, "").split("\n");
  const width = String(err.line + Math.max(lines.length - 1, 0)).length;
  const shown = lines.map((l, i) => ` ${String(err.line + i).padStart(width)} | ${l}`);
  return [err.message, ...shown].join("\n");
}

/** Internal: an error without a location yet; the parser adds file and line. */
export class ParseFailure extends Error {}
