// tar://PATH contexts: a (gzip'd) tar file on this machine.
import { statSync } from "node:fs";
import { ContextError } from "./errors.ts";
import type { ArchiveSource } from "./source.ts";

/** `path` is absolute (the CLI resolves a relative one against its directory). */
export async function fetchTarFile(spec: string, path: string): Promise<ArchiveSource> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new ContextError(`--context ${spec}: ${path} does not exist`);
  if (!st.isFile()) throw new ContextError(`--context ${spec}: ${path} is not a file (tar:// takes a .tar.gz file; dir:// a directory)`);
  return { stream: Bun.file(path).stream(), describe: spec };
}
