// tar://stdin contexts: a gzip'd tar piped into kiln (kaniko's `docker run -i ... --context tar://stdin`).
import { ContextError } from "./errors.ts";
import type { ArchiveSource } from "./source.ts";

/** The process's standard input as the CLI hands it over (nothing below cli/ touches the process itself). */
export interface ContextStdin {
  isTerminal: boolean;
  /** Called once, only for tar://stdin. */
  stream(): ReadableStream<Uint8Array>;
}

export async function fetchStdin(spec: string, stdin: ContextStdin | undefined): Promise<ArchiveSource> {
  if (!stdin) throw new ContextError(`--context ${spec}: no standard input was handed to the build`);
  if (stdin.isTerminal) {
    throw new ContextError(`--context ${spec}: standard input is a terminal; pipe a gzip'd tar of the context in, e.g. tar -C DIR -czf - . | kiln --context tar://stdin ...`);
  }
  return { stream: stdin.stream(), describe: spec };
}
