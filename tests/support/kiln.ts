// Runs kiln as users do: the CLI from source (bun cli/main.ts) or the compiled binary (dist/kiln).
import { existsSync, mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const BINARY = join(REPO, "dist/kiln");

export type KilnFlavour = "source" | "binary";

export interface KilnRun { code: number; stdout: string; stderr: string }

/** Compiles dist/kiln when it is missing (scripts/test.sh compiles it before the suite). */
export async function ensureBinary(): Promise<string> {
  if (!existsSync(BINARY)) {
    const p = Bun.spawnSync([process.execPath, "build", "--compile", join(REPO, "cli/main.ts"), "--outfile", BINARY], { stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`compiling dist/kiln failed: ${p.stderr.toString()}`);
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

/** A context directory made from a map of relative path -> content. */
export function makeContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-ctx-"));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}
