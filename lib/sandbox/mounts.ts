// RUN --mount inside the sandbox helper: after the system dirs are mounted and before the chroot, each
// mount is made on its (already created) target inside the build root. The mount namespace is private,
// so everything disappears with the command; the build root itself only ever holds the empty mount points,
// which the RUN instruction removes again before the snapshot.

/** Host paths only: the instruction has resolved every target inside the build root and made it exist. */
export type SandboxMount =
  | { type: "bind"; source: string; target: string; readonly: boolean }
  | { type: "tmpfs"; target: string; size?: number };

export class MountSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MountSetupError";
  }
}

function mount(args: string[]): void {
  const r = Bun.spawnSync(["mount", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new MountSetupError(`mount ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

/** Makes the mounts in order (a later target may lie inside an earlier one, as in BuildKit). */
export function applyMounts(root: string, mounts: SandboxMount[]): void {
  for (const m of mounts) {
    // A target outside the root would mean a bug in the caller; never mount over the host.
    if (m.target !== root && !m.target.startsWith(root + "/")) throw new MountSetupError(`mount target ${m.target} is outside the build root ${root}`);
    if (m.type === "bind") {
      mount(["--bind", m.source, m.target]);
      if (m.readonly) mount(["-o", "remount,bind,ro", m.target]);
    } else {
      const opts = ["nosuid", "nodev", ...(m.size !== undefined ? [`size=${m.size}`] : [])];
      mount(["-t", "tmpfs", "-o", opts.join(","), "tmpfs", m.target]);
    }
  }
}

/** In a fresh network namespace only loopback exists, and it starts down; BuildKit's `none` has it up. */
export function loopbackUp(): void {
  for (const ip of ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]) {
    try {
      if (Bun.spawnSync([ip, "link", "set", "lo", "up"], { stderr: "pipe" }).exitCode === 0) return;
    } catch { /* not installed here: try the next place */ }
  }
}
