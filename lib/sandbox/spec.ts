// The OCI runtime spec of one isolated RUN: what `docker run` gives a container by default, with the build
// root as its rootfs. Pure: the same inputs give the same spec, and a test can read every field.
import type { RunSpec } from "./run.ts";
import type { RunNetwork } from "./network.ts";
import { defaultSeccomp, type SeccompProfile } from "./seccomp.ts";

/** Docker's default capability set (moby's caps.DefaultCapabilities). */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

/** /proc and /sys entries Docker hides (a null device or an empty read-only tmpfs is mounted over them). */
export const MASKED_PATHS = [
  "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];

/** /proc entries Docker leaves readable but not writable. */
export const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** BuildKit's hostname inside a RUN. */
export const SANDBOX_HOSTNAME = "buildkitsandbox";

/** One RUN as the spec needs it: the RunSpec with its mounts and network settled (mount targets are host paths inside `root`, already made to exist; `cwd` exists in the root). */
export type ContainerSpecInput = Required<Omit<RunSpec, "network">> & { network: RunNetwork; arch?: string };

interface Mount { destination: string; type: string; source: string; options: string[] }

export interface ContainerSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted", string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: Mount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    resources: { devices: { allow: boolean; access: string; type?: string }[] };
    seccomp: SeccompProfile;
  };
}

/** Where a host path inside the root appears in the container. */
export function containerPath(root: string, host: string): string {
  if (host === root) return "/";
  if (!host.startsWith(root + "/")) throw new Error(`mount target ${host} is outside the build root ${root}`);
  return host.slice(root.length);
}

export function containerSpec(input: ContainerSpecInput): ContainerSpec {
  const runMounts: Mount[] = input.mounts.map((m) => m.type === "bind"
    ? { destination: containerPath(input.root, m.target), type: "bind", source: m.source, options: ["rbind", m.readonly ? "ro" : "rw", "nosuid", "nodev"] }
    : { destination: containerPath(input.root, m.target), type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", ...(m.size !== undefined ? [`size=${m.size}`] : [])] });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: input.uid, gid: input.gid, additionalGids: input.groups },
      args: input.argv,
      env: input.env,
      cwd: input.cwd,
      // As Docker: a non-root user starts with no effective capabilities (file capabilities and setuid binaries
      // still work up to the bounding set).
      capabilities: {
        bounding: DEFAULT_CAPABILITIES,
        effective: input.uid === 0 ? DEFAULT_CAPABILITIES : [],
        permitted: input.uid === 0 ? DEFAULT_CAPABILITIES : [],
      },
      noNewPrivileges: false,
    },
    root: { path: input.root, readonly: false },
    hostname: SANDBOX_HOSTNAME,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
      ...runMounts,
    ],
    linux: {
      namespaces: [
        { type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "cgroup" },
        ...(input.network === "none" ? [{ type: "network" }] : typeof input.network === "object" ? [{ type: "network", path: input.network.nsPath }] : []),
      ],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      // Deny every device node; runc itself allows the few it creates in /dev (null, zero, full, random, urandom,
      // tty, ptmx, pts).
      resources: { devices: [{ allow: false, access: "rwm" }] },
      seccomp: defaultSeccomp(input.arch),
    },
  };
}
