// The runc spec for run-network.sh: kiln's own, on the host's network or joining the given namespace.
//   bun run-network-spec.ts ROOTFS host|slirp NETNS_PATH RESOLV_CONF OUT_CONFIG_JSON
import { containerSpec } from "../../lib/sandbox/spec.ts";

const [root, mode, nsPath, resolv, out] = process.argv.slice(2);
const spec = containerSpec({
  root,
  argv: ["/bin/sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null && python3 -c 'print(42)'"],
  env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
  cwd: "/", uid: 0, gid: 0, groups: [],
  mounts: [{ type: "bind", source: resolv, target: `${root}/etc/resolv.conf`, readonly: true }],
  network: mode === "slirp" ? { nsPath } : "host",
});
await Bun.write(out, JSON.stringify(spec));
