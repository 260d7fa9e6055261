// Runs kiln as users do: the CLI from source (bun cli/main.ts) or the compiled binary (dist/kiln).
import { existsSync, mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const BINARY = join(REPO, "dist/kiln");

export type KilnFlavour = "source" | "binary";

export interface KilnRun { code: number; stdout: string; stderr: string }

/**
 * Compiles dist/kiln when it is missing (scripts/test.sh compiles it before the suite), with package.json's build
 * script, so tests run the binary users get.
 */
export async function ensureBinary(): Promise<string> {
  if (!existsSync(BINARY)) {
    const p = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`compiling dist/kiln (bun run build) failed: ${p.stderr.toString()}`);
  }
  return BINARY;
}

export async function runKiln(args: string[], opts: { flavour?: KilnFlavour; env?: Record<string, string>; cwd?: string } = {}): Promise<KilnRun> {
  const cmd = opts.flavour === "binary" ? [await ensureBinary()] : [process.execPath, join(REPO, "cli/main.ts")];
  const p = Bun.spawn([...cmd, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** A running kiln whose output is collected as it comes, for tests that act while it runs (signals). */
export interface RunningKiln {
  proc: ReturnType<typeof Bun.spawn>;
  /** Resolves once `text` has appeared on stdout or stderr; rejects if kiln exits first. */
  waitFor(text: string): Promise<void>;
  /** Waits for the exit; resolves with everything printed. */
  done(): Promise<KilnRun>;
}

export function spawnKiln(args: string[], opts: { env?: Record<string, string>; cwd?: string; prefix?: string[] } = {}): RunningKiln {
  const proc = Bun.spawn([...(opts.prefix ?? []), process.execPath, join(REPO, "cli/main.ts"), ...args], {
    cwd: opts.cwd ?? REPO,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = "", stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (stdout.includes(w.text) || stderr.includes(w.text)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const dec = new TextDecoder();
    for await (const c of s) { add(dec.decode(c, { stream: true })); check(); }
  };
  const pumps = Promise.all([pump(proc.stdout as ReadableStream<Uint8Array>, (t) => (stdout += t)), pump(proc.stderr as ReadableStream<Uint8Array>, (t) => (stderr += t))]);
  const exited = Promise.all([pumps, proc.exited]).then(([, code]) => ({ code, stdout, stderr }));
  return {
    proc,
    waitFor: (text) => new Promise<void>((resolve, reject) => {
      waiters.push({ text, resolve });
      check();
      void exited.then((r) => reject(new Error(`kiln exited (${r.code}) before printing "${text}":\n${r.stdout}\n${r.stderr}`)));
    }),
    done: () => exited,
  };
}

/** A context directory made from a map of relative path -> content. */
export function makeContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-ctx-"));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}
