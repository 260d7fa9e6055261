// What the snapshot and apply benchmarks share: shell steps, medians, test content, and the fresh
// file system they measure on.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Runs a bash command; its stdout and stderr, or an error naming the command. */
export function sh(cmd: string): string {
  const p = Bun.spawnSync(["bash", "-c", cmd], { stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString() + p.stderr.toString();
}

export function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * `files` files of text-like content (base64 of random bytes, so gzip has real work), `mib` MiB in
 * all, in 100 directories under `dir`.
 */
export function writeTextTree(dir: string, mib: number, files: number): void {
  const per = Math.floor((mib * 1024 * 1024) / files);
  const pool = `${dir}.pool`;
  sh(`mkdir -p ${dir} && cd ${dir} && head -c ${Math.ceil((mib * 1024 * 1024 * 3) / 4) + 1024} /dev/urandom | base64 -w 0 > ${pool} &&
      python3 - ${files} ${per} ${pool} <<'PY'
import os, sys
n, per, pool = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(pool, "rb") as f:
    for i in range(n):
        d = f"d{i % 100}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i}", "wb") as o:
            o.write(f.read(per))
PY
      rm -f ${pool}`);
}

/**
 * Where a benchmark creates its files. ext4 does not reuse an inode freed in the last minutes, so
 * creating files where many were just deleted costs several times the kernel time; as root, a fresh
 * ext4 on a loop device (a sparse image of `gib` GiB under `outer`) gives every run the same start.
 * KILN_BENCH_LOOP=0, or not being root, uses `outer` itself.
 */
export function benchFileSystem(outer: string, gib: number, opts: { inodeRatio?: number } = {}): { dir: string; loop: boolean; close(): void } {
  if (process.getuid?.() !== 0 || process.env.KILN_BENCH_LOOP === "0") return { dir: outer, loop: false, close() {} };
  const dir = join(outer, "mnt");
  mkdirSync(dir);
  const img = join(outer, "fs.img");
  sh(`truncate -s ${Math.ceil(gib)}G ${img} && mkfs.ext4 -q -F ${opts.inodeRatio ? `-i ${opts.inodeRatio}` : ""} ${img} && mount -o loop ${img} ${dir}`);
  return { dir, loop: true, close: () => void Bun.spawnSync(["umount", dir]) };
}

/** Removes a benchmark's temp dir `outer` and its file system, lazily unmounting what a builder left mounted under it (dockerd's overlays). */
export function removeBenchFileSystem(fsys: { dir: string; close(): void }, outer: string): void {
  Bun.spawnSync(["bash", "-c", `grep -o ' ${fsys.dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
  fsys.close();
  rmSync(outer, { recursive: true, force: true });
}

/** One `tar -xzf` of `blob` into a new directory `dir`, synced before and after; its wall time and tar's own user and sys seconds. */
export function timedTarExtract(blob: string, dir: string): { ms: number; user: string; sys: string } {
  mkdirSync(dir);
  sh("sync");
  const t = performance.now();
  const [user, sys] = sh(`TIMEFORMAT='%U %S'; { time tar -xzf ${blob} -C ${dir}; } 2>&1`).trim().split(" ");
  const ms = performance.now() - t;
  sh("sync");
  return { ms, user: user ?? "?", sys: sys ?? "?" };
}
