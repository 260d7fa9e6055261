// A private podman for tests: its own storage, run root, temp dir, events log and config in a temp directory, so
// the host's podman state (/var/lib/containers/storage, /run/containers, /etc/containers) is never read or
// changed. runc is the runtime (crun cannot run containers on these hybrid-cgroup machines) and the default
// ulimits are explicit (root here lacks cap_sys_resource, so podman cannot raise them to its defaults).
// Only the containers/image blob-info cache (/var/lib/containers/cache) stays shared: podman has no setting for
// it, and skopeo writes the same cache in every other image test.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolError } from "./image-assert.ts";

export interface PodmanRun { code: number; stdout: string; stderr: string }

export interface TestPodman {
  /** Runs podman with the private config; resolves with its output whatever the exit code. */
  run(args: string[]): Promise<PodmanRun>;
  /** Runs podman and returns stdout; throws ToolError on a non-zero exit. */
  ok(args: string[]): Promise<string>;
  /** A temp directory removed by stop(). */
  dir: string;
  /** Removes every pod, container and image, unmounts what podman left mounted, deletes the directory. */
  stop(): Promise<void>;
}

const TOOLS = ["podman", "runc", "catatonit"];

/** The tools `podman kube play` needs here (catatonit builds the pods' pause image), or the missing ones. */
export function missingPodmanTools(): string[] {
  return TOOLS.filter((t) => !Bun.which(t) && !existsSync(`/usr/libexec/podman/${t}`));
}

/** Throws, naming the missing tools, unless podman can run here. scripts/test-env.sh installs podman. */
export function requirePodmanTools(): void {
  const missing = missingPodmanTools();
  if (missing.length) throw new Error(`${missing.join(", ")} missing: run 'bash scripts/test-env.sh' as root (it installs podman)`);
}

export async function startPodman(): Promise<TestPodman> {
  requirePodmanTools();
  const dir = mkdtempSync(join(tmpdir(), "kiln-podman-"));
  const p = (name: string) => { const d = join(dir, name); mkdirSync(d, { recursive: true }); return d; };
  const [root, runroot, tmp, networks, work] = ["root", "runroot", "tmp", "networks", "work"].map(p);
  writeFileSync(join(dir, "containers.conf"), `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${join(dir, "events.log")}"
tmp_dir = "${tmp}"
[network]
network_config_dir = "${networks}"
`);
  writeFileSync(join(dir, "storage.conf"), `[storage]\ndriver = "overlay"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
  // No short-name search: an image the test did not load is an error, never a pull from the internet.
  writeFileSync(join(dir, "registries.conf"), "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n");
  const env = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", HOME: process.env.HOME ?? "/root", TMPDIR: tmp,
    CONTAINERS_CONF: join(dir, "containers.conf"), CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(dir, "registries.conf"),
  };
  const run = async (args: string[]): Promise<PodmanRun> => {
    const proc = Bun.spawn(["podman", ...args], { env, cwd: work, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };
  const ok = async (args: string[]) => {
    const r = await run(args);
    if (r.code !== 0) throw new ToolError(["podman", ...args], r.code, r.stderr);
    return r.stdout;
  };
  return {
    run, ok, dir: work,
    async stop() {
      await run(["pod", "rm", "--all", "--force", "--time", "0"]);
      await run(["rm", "--all", "--force", "--time", "0"]);
      await run(["rmi", "--all", "--force"]);
      // Overlay and shm mounts podman may leave when a command was cut short: deepest first.
      const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
        .filter((m): m is string => !!m && m.startsWith(dir + "/")).sort().reverse();
      for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
