// The setup most end-to-end files share: a real registry with the busybox base pushed to it, and temp
// directories removed when the file's tests are done. Call at the top level of a test file.
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type StartRegistryOptions, type TestRegistry } from "./registry.ts";
import { pushBusybox } from "./base-images.ts";

export interface BusyboxRegistry {
  /** The running registry (set once beforeAll has run). */
  readonly reg: TestRegistry;
  /** "<host>/busybox:latest" in that registry. */
  readonly base: string;
  /** Removes `dir` after the file's tests; returns it. */
  keep(dir: string): string;
  /** A new temp directory removed after the file's tests. */
  tmp(prefix?: string): string;
}

/** Temp directories removed after the file's tests: `tmp(prefix)` makes one. Call at the top level of a test file. */
export function useTempDirs(): { tmp(prefix?: string): string; keep(dir: string): string } {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const keep = (dir: string) => (dirs.push(dir), dir);
  return { keep, tmp: (prefix = "kiln-test-") => keep(mkdtempSync(join(tmpdir(), prefix))) };
}

export function useBusyboxRegistry(opts: StartRegistryOptions = {}): BusyboxRegistry {
  let reg: TestRegistry | undefined;
  let base: string | undefined;
  const temps = useTempDirs();
  beforeAll(async () => {
    reg = await startRegistry(opts);
    base = await pushBusybox(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });
  return {
    get reg() { if (!reg) throw new Error("the registry starts in beforeAll"); return reg; },
    get base() { if (!base) throw new Error("the base image is pushed in beforeAll"); return base; },
    ...temps,
  };
}
