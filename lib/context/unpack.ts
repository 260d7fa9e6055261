// Unpacks a context that arrives as a tar stream (gzip'd, zstd'd or plain: the layer reader sniffs it) into a
// directory, streamed entry by entry. The entries go through rootfs's untar rules with the directory as the root,
// so nothing lands outside it; on top of that a context archive is held to stricter rules than ADD's: an entry
// naming ".." or an absolute path, or one below a symlink the archive made, is refused rather than clamped, since
// an honest `tar -C ctx -czf ctx.tar.gz .` never makes one. Devices and FIFOs are skipped (untar rules).
import { posix } from "node:path";
import { LayerFormatError, readLayer, type ReadEntry } from "../layer/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { ArchiveError, extractEntries } from "../rootfs/mod.ts";
import { ContextError } from "./errors.ts";
import type { ArchiveSource } from "./source.ts";

/** kiln's default for --context-size-limit. */
export const DEFAULT_CONTEXT_SIZE_LIMIT = 10 * 1024 ** 3;

/** Where the limit is raised, for the message that names it. */
const LIMIT_FLAG = "--context-size-limit";

export interface UnpackOptions {
  /** The most tar bytes (512 per header plus each file's size) the archive may hold. */
  maxBytes: number;
}

/** Unpacks `src` into `dest` (an existing empty directory). Bad input is a ContextError naming the source. */
export async function unpackContext(src: ArchiveSource, dest: string, opts: UnpackOptions): Promise<void> {
  const what = `--context ${src.describe}`;
  // A refusal thrown inside the entry stream would come back wrapped by the applier: keep it as it is.
  let refused: ContextError | undefined;
  let entries = 0;
  async function* checked(all: AsyncIterable<ReadEntry>): AsyncGenerator<ReadEntry> {
    const symlinks = new Set<string>();
    let total = 0;
    for await (const e of all) {
      entries++;
      const h = e.header;
      const problem = entryProblem(h.name, symlinks);
      if (problem) throw (refused = new ContextError(`${what}: entry "${h.name}" ${problem}; the archive is refused`));
      // Headers count too, so an archive of countless empty files is bounded as well.
      total += 512 + (h.type === "file" ? h.size : 0);
      if (total > opts.maxBytes) {
        throw (refused = new ContextError(`${what}: the context is larger than the limit of ${formatBytes(opts.maxBytes)}; raise it with ${LIMIT_FLAG}`));
      }
      if (h.type === "symlink") symlinks.add(normalName(h.name));
      yield e;
    }
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  try {
    // The build's own user owns the unpacked files: COPY sets owners itself, and an unprivileged kiln could not chown.
    await extractEntries(dest, checked(readLayer(src.stream)), "/", { logger: silentLogger, owner: { uid, gid } });
  } catch (e) {
    if (refused) throw refused;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") throw e;
    if (e instanceof ArchiveError && e.entry === undefined) {
      const cause = (e as Error).cause;
      const detail = cause instanceof LayerFormatError ? (cause.cause as Error | undefined)?.message ?? cause.what : e.message;
      throw new ContextError(`${what}: not a valid tar archive (gzip'd or plain), or cut off: ${detail}`, { cause: e });
    }
    if (e instanceof ContextError) throw e;
    throw new ContextError(`${what}: ${(e as Error).message}`, { cause: e });
  }
  if (entries === 0) throw new ContextError(`${what}: the archive is empty (make it with: tar -C DIR -czf context.tar.gz .)`);
}

function normalName(name: string): string {
  return posix.normalize(name.replace(/^(\.\/)+/, "")).replace(/\/$/, "");
}

/** Why an entry name is refused, or undefined. */
export function entryProblem(name: string, symlinks: ReadonlySet<string>): string | undefined {
  if (name.startsWith("/")) return "is an absolute path";
  const parts = name.split("/");
  if (parts.includes("..")) return 'climbs out with ".."';
  const n = normalName(name);
  const segs = n.split("/");
  for (let i = 1; i < segs.length; i++) {
    const above = segs.slice(0, i).join("/");
    if (symlinks.has(above)) return `lies below "${above}", a symlink the archive made`;
  }
  return undefined;
}

function formatBytes(n: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}
