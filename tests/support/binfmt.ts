// arm64 emulation for tests: qemu-user-static's aarch64 handler registered with binfmt_misc.
// Registering changes the machine (the kernel's handler table), which tests may do and kiln itself never does.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const MISC = "/proc/sys/fs/binfmt_misc";
const CONF = "/usr/lib/binfmt.d/qemu-aarch64.conf";
export const QEMU_AARCH64 = "/usr/bin/qemu-aarch64-static";

/**
 * Makes arm64 ELF binaries run on this host. Idempotent. Returns undefined when they run, else why not (tests
 * skip nothing: they fail with this text, since scripts/test-env.sh installs qemu-user-static).
 * The handler is registered with the F flag, so the interpreter is opened now and works inside any root
 * (runc containers, pivot_root sandboxes) without a qemu binary there.
 */
export function ensureArm64Emulation(): string | undefined {
  if (!existsSync(QEMU_AARCH64)) return `${QEMU_AARCH64} is missing: apt-get install qemu-user-static (scripts/test-env.sh does)`;
  if (!existsSync(`${MISC}/register`)) {
    mkdirSync(MISC, { recursive: true });
    const p = Bun.spawnSync(["mount", "-t", "binfmt_misc", "binfmt_misc", MISC], { stderr: "pipe" });
    if (p.exitCode !== 0) return `cannot mount binfmt_misc on ${MISC}: ${p.stderr.toString().trim()}`;
  }
  const entry = `${MISC}/qemu-aarch64`;
  if (existsSync(entry)) {
    const state = readFileSync(entry, "utf8");
    if (/^enabled/m.test(state) && /^flags:.*F/m.test(state)) return undefined;
    // A handler without F (opened lazily, by path) fails inside roots that lack the interpreter: replace it.
    writeFileSync(entry, "-1");
  }
  // Debian's line names a wrapper for the P flag; the static binary itself with "F" is what containers need.
  const line = readFileSync(CONF, "utf8").trim().split(":");
  // :name:type:offset:magic:mask:interpreter:flags
  line[6] = QEMU_AARCH64;
  line[7] = "F";
  try {
    writeFileSync(`${MISC}/register`, line.join(":"));
  } catch (e) {
    return `cannot register the qemu-aarch64 binfmt handler: ${(e as Error).message}`;
  }
  return undefined;
}
