// Runs an unpacked image the way a container runtime (or a cluster) does: new mount and PID namespaces, the image's
// root made a mount point, a fresh /proc, the host's /dev and /sys, the context bind-mounted at /workspace, the host
// network (for a loopback registry), the given Env and nothing else of the host, then chroot. Inside, kiln builds
// in place on "/" — which is that temp root, never the host's.
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupInspected, runTool, type InspectedImage } from "./image-assert.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { pushBusybox } from "./base-images.ts";
import { ensureBinary, REPO } from "./kiln.ts";

// As a container runtime does it; runs on the host, before the chroot, so it may use host tools.
const CONTAINER_SH = `set -e
R=$1; C=$2; shift 2
mount --bind "$R" "$R"
mkdir -p "$R/proc" "$R/dev" "$R/sys" "$R/workspace"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --rbind /sys "$R/sys"
mount --bind "$C" "$R/workspace"
exec /usr/bin/env -i "$@"`;

export interface ContainerOptions {
  /** Capabilities the container lacks (setpriv names, e.g. "sys_admin"), as a pod that does not grant them. */
  dropCaps?: string[];
}

export async function runContainer(rootfs: string, context: string, env: string[], argv: string[], opts: ContainerOptions = {}) {
  // Dropped from the bounding set before the chroot: no process inside can hold them.
  const drop = opts.dropCaps?.length ? ["/usr/bin/setpriv", "--bounding-set", opts.dropCaps.map((c) => `-${c}`).join(",")] : [];
  const p = Bun.spawn(
    ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "sh", "-c", CONTAINER_SH, "sh", rootfs, context,
      ...env, ...drop, "/usr/sbin/chroot", rootfs, ...argv],
    { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Builds the executor and debug images (scripts/images.sh, with dist/kiln) as OCI layouts in a new temp dir. */
export async function buildExecutorImages(): Promise<string> {
  await ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "kiln-images-"));
  await runTool(["bash", join(REPO, "scripts/images.sh"), "--out", dir], { cwd: REPO });
  return dir;
}

export interface ExecutorImagesFixture {
  /** A registry with the busybox base pushed to it. */
  readonly reg: TestRegistry;
  /** "<host>/busybox:latest" in that registry. */
  readonly base: string;
  /** The OCI layouts of the executor and debug images (buildExecutorImages). */
  readonly imagesDir: string;
  /** Directories removed, and inspected images cleaned up, after the file's tests. */
  readonly cleanup: string[];
  readonly inspected: InspectedImage[];
}

/** What the executor-image test files share: the images, a registry with the base, and cleanup. Call at the top level. */
export function useExecutorImages(): ExecutorImagesFixture {
  let reg: TestRegistry | undefined;
  let base: string | undefined;
  let imagesDir: string | undefined;
  const cleanup: string[] = [];
  const inspected: InspectedImage[] = [];
  beforeAll(async () => {
    imagesDir = await buildExecutorImages();
    cleanup.push(imagesDir);
    reg = await startRegistry();
    base = await pushBusybox(reg);
  }, 240_000);
  afterAll(async () => {
    await reg?.stop();
    for (const i of inspected) await cleanupInspected(i);
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is set up in beforeAll`);
    return v;
  };
  return {
    get reg() { return need(reg, "the registry"); },
    get base() { return need(base, "the base image"); },
    get imagesDir() { return need(imagesDir, "the images"); },
    cleanup,
    inspected,
  };
}
