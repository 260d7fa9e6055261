// Files of a store that several builds (or warmers) share, written so that no reader meets one half-written: through a
// temporary sibling renamed over the destination, removed when writing fails (a full disk).
import { randomUUID } from "node:crypto";
import { rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * A hidden name beside `path` (listings of a store skip dot-names), unique to this call: a UUID rather than pid and
 * time, because containers sharing a cache volume each have their own pid 1.
 */
const tempFor = (path: string) => join(dirname(path), `.${basename(path)}.tmp-${randomUUID()}`);

export async function writeAtomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempFor(path);
  try {
    await write(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** For content-named files (and fixed ones such as oci-layout): present means complete, since it came by rename. */
export async function writeIfMissing(path: string, bytes: string | Uint8Array): Promise<void> {
  if (await stat(path).catch(() => undefined)) return;
  await writeAtomically(path, (tmp) => writeFile(tmp, bytes));
}
