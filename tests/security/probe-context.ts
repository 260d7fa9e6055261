// The pieces of the containment suite's build context that come from the host: the probe compiled static,
// a perl image made of the host's perl binary and the libraries it links, and the host's block devices.
import { copyFileSync, lstatSync, mkdirSync, openSync, closeSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

const HERE = import.meta.dir;

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

/** Compiles probe.c (static, so it runs on a FROM scratch root) to `out`. */
export function compileProbe(out: string): void {
  run(["gcc", "-static", "-O1", "-o", out, join(HERE, "probe.c")]);
}

/**
 * Copies the host's perl and everything `ldd` lists for it under `root`, at the same paths, so that
 * `COPY root/ /` on FROM scratch gives an image where /usr/bin/perl runs scripts that use builtins only.
 */
export function copyPerl(root: string, perl = "/usr/bin/perl"): void {
  const files = [perl, ...[...run(["ldd", perl]).matchAll(/(\/\S+) \(0x/g)].map((m) => m[1])];
  for (const f of files) {
    const dest = join(root, f);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(f, dest); // follows symlinks: the image gets the library itself under the name the loader asks for
  }
}

export interface BlockDevice { path: string; major: number; minor: number; hostCanOpen: boolean }

/** The block devices in the host's /dev, and whether the host itself can open each read-only. */
export function hostBlockDevices(): BlockDevice[] {
  const out: BlockDevice[] = [];
  for (const name of readdirSync("/dev").sort()) {
    const path = join("/dev", name);
    let st;
    try { st = lstatSync(path); } catch { continue; }
    if (!st.isBlockDevice()) continue;
    const rdev = Number(st.rdev);
    out.push({ path, major: (rdev >> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00), hostCanOpen: canOpen(path) });
  }
  return out;
}

function canOpen(path: string): boolean {
  try { closeSync(openSync(path, "r")); return true; } catch { return false; }
}
