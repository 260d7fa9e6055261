// The private network of isolated RUNs: a network namespace of the build's own, given outbound access by the
// user-mode network stack slirp4netns (what rootless BuildKit and podman use). A RUN reaches the internet as
// with `docker build`, but not the host's loopback services (--disable-host-loopback); `--network=host` keeps the
// host's network. One namespace serves every RUN of a build; it is made at the first RUN that needs it.
// Both helper processes read a pipe from kiln and exit when it closes, so they end with kiln however it ends.
import { readlinkSync } from "node:fs";
import type { Logger } from "../log/mod.ts";
import { firstExecutable, SandboxError } from "./run.ts";

const SLIRP_PATHS = ["/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns", "/bin/slirp4netns", "/usr/sbin/slirp4netns"];
const UNSHARE_PATHS = ["/usr/bin/unshare", "/bin/unshare"];

/** slirp4netns's built-in DNS forwarder, which asks the host's resolvers (loopback ones included). */
export const PRIVATE_NAMESERVER = "10.0.2.3";

class PrivateNetwork {
  readonly #holder: ReturnType<typeof Bun.spawn>;
  readonly #slirp: ReturnType<typeof Bun.spawn>;

  private constructor(
    /** The namespace file a RUN's spec joins. */
    readonly nsPath: string,
    holder: ReturnType<typeof Bun.spawn>,
    slirp: ReturnType<typeof Bun.spawn>,
  ) {
    this.#holder = holder;
    this.#slirp = slirp;
  }

  /** Starts the namespace and its slirp4netns; undefined (after one warning) where slirp4netns is not installed. */
  static async start(logger: Logger): Promise<PrivateNetwork | undefined> {
    const slirpPath = firstExecutable(SLIRP_PATHS);
    const unsharePath = firstExecutable(UNSHARE_PATHS);
    if (!slirpPath || !unsharePath) {
      logger.warn(
        `RUN uses the host's network: a private network for RUN needs ${slirpPath ? "util-linux unshare" : "slirp4netns"} ` +
        `(apt-get install ${slirpPath ? "util-linux" : "slirp4netns"}); pass --network=host to choose the host's network and silence this`,
      );
      return undefined;
    }
    const own = readlinkSync("/proc/self/ns/net");
    const holder = Bun.spawn([unsharePath, "--net", "cat"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    holder.unref();
    const nsPath = `/proc/${holder.pid}/ns/net`;
    try {
      // unshare execs cat once the namespace exists; until then the process is still in ours.
      for (let i = 0; ; i++) {
        if (holder.exitCode !== null) throw new SandboxError(`unshare --net failed: ${(await new Response(holder.stderr as ReadableStream).text()).trim()}`);
        let ns: string | undefined;
        try { ns = readlinkSync(nsPath); } catch { /* not there yet */ }
        if (ns && ns !== own) break;
        if (i > 5000) throw new SandboxError("unshare --net did not make a network namespace within 5 s");
        await Bun.sleep(1);
      }
      const slirp = Bun.spawn(
        [slirpPath, "--configure", "--mtu=65520", "--disable-host-loopback", "--exit-fd", "0", "--ready-fd", "1", String(holder.pid), "tap0"],
        { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
      );
      slirp.unref();
      const reader = (slirp.stdout as ReadableStream<Uint8Array>).getReader();
      const ready = await reader.read();
      reader.releaseLock();
      if (ready.done) {
        const err = (await new Response(slirp.stderr as ReadableStream).text()).trim();
        throw new SandboxError(`slirp4netns could not start the RUN network: ${err || `exit ${await slirp.exited}`}`);
      }
      return new PrivateNetwork(nsPath, holder, slirp);
    } catch (e) {
      holder.kill(9);
      throw e;
    }
  }

  /** Ends both helpers (they also end by themselves when kiln exits). */
  close(): void {
    for (const p of [this.#slirp, this.#holder]) {
      const stdin = p.stdin;
      if (stdin && typeof stdin !== "number") void stdin.end();
    }
  }
}

/** One private network per build (keyed by its runtime directory), started on first use. */
const networks = new Map<string, Promise<PrivateNetwork | undefined>>();

function privateNetwork(runtimeDir: string, logger: Logger): Promise<PrivateNetwork | undefined> {
  let n = networks.get(runtimeDir);
  if (!n) {
    n = PrivateNetwork.start(logger);
    networks.set(runtimeDir, n);
    n.catch(() => networks.delete(runtimeDir));
  }
  return n;
}

/** What a RUN's network setting means here: the host's, none, or the build's private namespace. */
export type RunNetwork = "host" | "none" | { nsPath: string };

/**
 * Resolves a RUN's network: "private" is the build's own namespace with outbound access, or the host's network
 * (after one warning) where slirp4netns is missing.
 */
export async function runNetwork(mode: "private" | "host" | "none", runtimeDir: string, logger: Logger): Promise<RunNetwork> {
  if (mode !== "private") return mode;
  const n = await privateNetwork(runtimeDir, logger);
  return n ? { nsPath: n.nsPath } : "host";
}

/** Ends the build's private network, if it started one. */
export async function closeNetwork(runtimeDir: string): Promise<void> {
  const n = networks.get(runtimeDir);
  networks.delete(runtimeDir);
  (await n?.catch(() => undefined))?.close();
}
