import { test, expect } from "bun:test";
import { containerSpec, containerPath } from "./spec.ts";

const base = { root: "/b/r", argv: ["sh"], env: [], cwd: "/", uid: 0, gid: 0, groups: [], mounts: [], network: "host" as const, arch: "x64" };

test("RUN mounts become container mounts at their in-root paths, after the system ones", () => {
  const s = containerSpec({ ...base, mounts: [
    { type: "bind", source: "/cache/a", target: "/b/r/root/.cache", readonly: false },
    { type: "bind", source: "/secret", target: "/b/r/run/secrets/x", readonly: true },
    { type: "tmpfs", target: "/b/r/tmp", size: 1024 },
  ] });
  const last = s.mounts.slice(-3);
  expect(last).toEqual([
    { destination: "/root/.cache", type: "bind", source: "/cache/a", options: ["rbind", "rw", "nosuid", "nodev"] },
    { destination: "/run/secrets/x", type: "bind", source: "/secret", options: ["rbind", "ro", "nosuid", "nodev"] },
    { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1024"] },
  ]);
  expect(s.mounts.map((m) => m.destination).slice(0, 7)).toEqual(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]);
  expect(s.mounts.find((m) => m.destination === "/sys")!.options).toContain("ro");
});

test("a mount target outside the root is refused", () => {
  expect(() => containerPath("/b/r", "/b/rx/etc")).toThrow(/outside the build root/);
  expect(() => containerSpec({ ...base, mounts: [{ type: "tmpfs", target: "/etc" }] })).toThrow(/outside the build root/);
});

test("namespaces: a network namespace only for --network=none", () => {
  const types = (n: "none" | "host") => containerSpec({ ...base, network: n }).linux.namespaces.map((x) => x.type);
  expect(types("host")).toEqual(["pid", "ipc", "uts", "mount", "cgroup"]);
  expect(types("none")).toContain("network");
});

test("seccomp: no namespace or mount syscalls, no block-device mknod, clone without namespace flags", () => {
  const sc = containerSpec(base).linux.seccomp;
  expect(sc.defaultAction).toBe("SCMP_ACT_ERRNO");
  const allowedAlways = new Set(sc.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW" && !r.args).flatMap((r) => r.names));
  for (const n of ["mount", "umount2", "unshare", "setns", "pivot_root", "init_module", "finit_module", "kexec_load", "keyctl", "bpf", "mknod", "mknodat", "clone"]) {
    expect(allowedAlways.has(n)).toBe(false);
  }
  for (const n of ["read", "openat", "execve", "chroot", "socket", "arch_prctl"]) expect(allowedAlways.has(n)).toBe(true);
  const mknodTypes = sc.syscalls.filter((r) => r.names[0] === "mknod").map((r) => r.args![0].valueTwo);
  expect(mknodTypes).not.toContain(0o060000); // S_IFBLK
  expect(mknodTypes).toContain(0o020000); // S_IFCHR
  expect(sc.syscalls.find((r) => r.names[0] === "clone")!.args![0]).toEqual({ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" });
});
