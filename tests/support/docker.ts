// Runs a private Docker engine (Debian's docker.io, BuildKit built in) for the conformance suite: its own
// data-root, exec-root, socket and pidfile under a temp dir, no bridge, no iptables, so it changes nothing on
// the host's network and shares no state with any other dockerd. See /work/shared/MACHINE-NOTES.md.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's client: it has BuildKit built in (the newer /usr/local/bin/docker lacks buildx). */
export const DOCKER_CLIENT = "/usr/bin/docker";
export const DOCKERD = "/usr/sbin/dockerd";

export interface TestDocker {
  /** unix:///.../docker.sock */
  host: string;
  /** Environment for /usr/bin/docker: DOCKER_HOST, DOCKER_BUILDKIT=1, a private DOCKER_CONFIG. */
  env: Record<string, string>;
  /** Runs the docker client; resolves with its exit code and output (never throws for a non-zero exit). */
  run(args: string[], opts?: { cwd?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export class TestDockerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TestDockerError";
  }
}

/** Whether this machine can run the engine at all (binaries present). scripts/test-env.sh installs docker.io. */
export function dockerAvailable(): boolean {
  return existsSync(DOCKERD) && existsSync(DOCKER_CLIENT);
}

export async function startDocker(): Promise<TestDocker> {
  if (!dockerAvailable()) {
    throw new TestDockerError(`${DOCKERD} or ${DOCKER_CLIENT} is missing: run 'bash scripts/test-env.sh' as root (it installs docker.io)`);
  }
  // A short path: the socket path must fit in sun_path (108 bytes).
  const dir = await mkdtemp(join(tmpdir(), "kd-"));
  const sock = join(dir, "docker.sock");
  const host = `unix://${sock}`;
  const env = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    DOCKER_HOST: host,
    DOCKER_BUILDKIT: "1",
    DOCKER_CONFIG: join(dir, "client-config"),
  };
  const daemon = Bun.spawn([
    DOCKERD,
    "--data-root", join(dir, "data"),
    "--exec-root", join(dir, "exec"),
    "--host", host,
    "--pidfile", join(dir, "docker.pid"),
    "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
    "--storage-driver", "overlay2",
    "--config-file", await writeDaemonConfig(dir),
  ], { env, stdin: "ignore", stdout: Bun.file(join(dir, "dockerd.log")), stderr: Bun.file(join(dir, "dockerd.err.log")) });

  const run = async (args: string[], opts: { cwd?: string } = {}) => {
    const p = Bun.spawn([DOCKER_CLIENT, ...args], { env, cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    daemon.kill("SIGTERM");
    const timer = setTimeout(() => daemon.kill("SIGKILL"), 15_000);
    await daemon.exited;
    clearTimeout(timer);
    // dockerd leaves overlay mounts behind when killed; unmount anything under our dir before removing it.
    const mounts = (await Bun.file("/proc/self/mountinfo").text()).split("\n")
      .map((l) => l.split(" ")[4]).filter((m): m is string => !!m && m.startsWith(dir)).sort().reverse();
    for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
    // Lazily unmounted overlays can keep a directory busy for a moment after dockerd exits.
    for (let attempt = 0; ; attempt++) {
      try {
        await rm(dir, { recursive: true, force: true });
        break;
      } catch (e) {
        if (attempt >= 10) throw new TestDockerError(`cannot remove ${dir} after stopping dockerd: ${(e as Error).message}`);
        await Bun.sleep(300);
      }
    }
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (daemon.exitCode !== null) {
      const log = await Bun.file(join(dir, "dockerd.err.log")).text().catch(() => "");
      await stop();
      throw new TestDockerError(`dockerd exited with ${daemon.exitCode} while starting:\n${log.split("\n").slice(-15).join("\n")}`);
    }
    if (existsSync(sock) && (await run(["version", "--format", "{{.Server.Version}}"])).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new TestDockerError(`dockerd did not answer on ${host} within 60 s (log: ${join(dir, "dockerd.err.log")})`);
    }
    await Bun.sleep(200);
  }
  return { host, env, run, stop };
}

/** An empty daemon.json of our own, so the host's /etc/docker/daemon.json never applies. */
async function writeDaemonConfig(dir: string): Promise<string> {
  const path = join(dir, "daemon.json");
  await Bun.write(path, JSON.stringify({ features: { buildkit: true } }));
  return path;
}
