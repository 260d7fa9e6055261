// One clear line per failure for the CLI: typed errors already carry file, line and advice in their message.
export function formatError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const full = diskFull(e);
  if (full) return full;
  const f = (e as { format?: () => string }).format;
  return typeof f === "function" ? f.call(e) : e.message;
}

const FULL: Record<string, string> = { ENOSPC: "no space left on the device", EDQUOT: "the disk quota is exceeded" };

// A full disk surfaces as a bare system error from wherever the write happened (possibly as the cause of
// another error): name the path and what to do instead of "ENOSPC: no space left on device, write".
function diskFull(e: Error): string | undefined {
  const c = diskFullCause(e);
  if (c) {
    const { code, path, dest } = c as typeof c & { dest?: string };
    const where = path ?? dest;
    const line = `${FULL[code]}${where ? ` writing ${where}` : ""}: free space there (or point --kaniko-dir / TMPDIR at a larger file system) and build again`;
    return c === e ? line : `${e.message.split("\n")[0]}: ${line}`;
  }
  return undefined;
}

/** The error in `e`'s cause chain (itself included) that is a full disk or an exceeded quota (ENOSPC, EDQUOT). */
export function diskFullCause(e: unknown): (Error & { code: string; path?: string }) | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    const { code } = c as NodeJS.ErrnoException;
    if (code !== undefined && Object.hasOwn(FULL, code)) return c as Error & { code: string; path?: string };
  }
  return undefined;
}
