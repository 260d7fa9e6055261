import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEmulation } from "./binfmt.ts";

// Debian qemu-user-static's aarch64 line, as /proc/sys/fs/binfmt_misc shows it once registered.
const AARCH64 = (flags: string) => `enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: ${flags}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n`;

function miscDir(entries: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-binfmt-"));
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return dir;
}

test("the handler whose magic and mask match the architecture's ELF header is found, with its F flag", () => {
  const dir = miscDir({ status: "enabled\n", register: "", "qemu-aarch64": AARCH64("F") });
  try {
    expect(checkEmulation("amd64", "arm64", dir)).toEqual({ kind: "handler", handler: { name: "qemu-aarch64", interpreter: "/usr/bin/qemu-aarch64-static", fixBinary: true } });
    expect(checkEmulation("amd64", "riscv64", dir)).toEqual({ kind: "none" });
    expect(checkEmulation("amd64", "s390x", dir)).toEqual({ kind: "none" });
    expect(checkEmulation("amd64", "386", dir)).toEqual({ kind: "native" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a handler without F, a disabled one, a disabled binfmt_misc and an unmounted one", () => {
  const noF = miscDir({ status: "enabled\n", "qemu-aarch64": AARCH64("") });
  const disabledEntry = miscDir({ status: "enabled\n", "qemu-aarch64": AARCH64("F").replace("enabled", "disabled") });
  const disabledAll = miscDir({ status: "disabled\n", "qemu-aarch64": AARCH64("F") });
  const unmounted = miscDir({});
  try {
    expect(checkEmulation("amd64", "arm64", noF)).toMatchObject({ kind: "handler", handler: { fixBinary: false } });
    expect(checkEmulation("amd64", "arm64", disabledEntry)).toEqual({ kind: "none" });
    expect(checkEmulation("amd64", "arm64", disabledAll)).toEqual({ kind: "none" });
    expect(checkEmulation("amd64", "arm64", unmounted).kind).toBe("unknown");
    expect(checkEmulation("amd64", "arm64", join(unmounted, "missing")).kind).toBe("unknown");
  } finally {
    for (const d of [noF, disabledEntry, disabledAll, unmounted]) rmSync(d, { recursive: true, force: true });
  }
});
