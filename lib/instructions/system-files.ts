// The files every RUN container gets from the builder, as BuildKit provides them: /etc/hosts (localhost and the
// sandbox's hostname) and the host's /etc/resolv.conf (in the private network, its nameservers replaced by the
// network's DNS forwarder, which asks them), both read-only. A file the image lacks is stubbed for the
// command and removed after it, so neither ever reaches a layer.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveInRoot } from "../rootfs/mod.ts";
import { PRIVATE_NAMESERVER, SANDBOX_HOSTNAME, type SandboxMount } from "../sandbox/mod.ts";
import { makeStub, removeStub, type Stub } from "./stubs.ts";

const HOSTS = `127.0.0.1\tlocalhost ${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;

/** The host's resolver configuration; for the private network, with its nameservers replaced by the forwarder's. */
export function resolvConf(host: string, privateNetwork: boolean): string {
  if (!privateNetwork) return host;
  const kept = host.split("\n").filter((l) => !/^\s*nameserver\s/.test(l) && l.trim() !== "");
  return [`nameserver ${PRIVATE_NAMESERVER}`, ...kept].join("\n") + "\n";
}

/** Writes the build's copies once (in its runtime directory) and returns their paths. */
function sources(dir: string, privateNetwork: boolean): Record<"/etc/hosts" | "/etc/resolv.conf", string> {
  const hosts = join(dir, "hosts");
  const resolv = join(dir, privateNetwork ? "resolv.conf.private" : "resolv.conf");
  if (!existsSync(resolv)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(hosts, HOSTS, { mode: 0o644 });
    let text = "";
    try { text = readFileSync("/etc/resolv.conf", "utf8"); } catch { /* a host without one: the RUN resolves nothing */ }
    writeFileSync(resolv, resolvConf(text, privateNetwork), { mode: 0o644 });
  }
  return { "/etc/hosts": hosts, "/etc/resolv.conf": resolv };
}

export interface SystemFileMounts {
  mounts: SandboxMount[];
  release(): void;
}

export function systemFileMounts(root: string, filesDir: string, privateNetwork: boolean): SystemFileMounts {
  const mounts: SandboxMount[] = [];
  const stubs: Stub[] = [];
  for (const [target, source] of Object.entries(sources(filesDir, privateNetwork))) {
    // Followed inside the root: Debian images link resolv.conf into /run; a link leading nowhere gets no mount.
    let inRoot: string;
    try { inRoot = resolveInRoot(root, target, true); } catch { continue; }
    const host = root + inRoot;
    const st = statOrUndefined(host);
    if (st) {
      if (st.isFile()) mounts.push({ type: "bind", source, target: host, readonly: true });
      continue;
    }
    const parent = statOrUndefined(host.slice(0, host.lastIndexOf("/")) || root);
    if (!parent?.isDirectory()) continue;
    const stub = makeStub(root, inRoot, "file");
    stubs.push(stub);
    mounts.push({ type: "bind", source, target: stub.host, readonly: true });
  }
  return { mounts, release: () => { for (const s of stubs.reverse()) removeStub(s); } };
}

function statOrUndefined(p: string) {
  try { return statSync(p); } catch { return undefined; }
}
