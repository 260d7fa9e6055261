// Whether this kernel can run another architecture's programs: RUN for a foreign platform execs the image's
// binaries as they are (runc does no emulation), so a binfmt_misc handler (qemu-user) must claim their ELF header.
// kiln only reads the handler table: registering one changes the host, which is the user's decision.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MISC = "/proc/sys/fs/binfmt_misc";

/** ELF class (1: 32-bit, 2: 64-bit), byte order (1: little, 2: big) and e_machine of each architecture. */
const ELF: Record<string, { cls: number; data: number; machine: number }> = {
  amd64: { cls: 2, data: 1, machine: 0x3e },
  "386": { cls: 1, data: 1, machine: 0x03 },
  arm64: { cls: 2, data: 1, machine: 0xb7 },
  arm: { cls: 1, data: 1, machine: 0x28 },
  ppc64le: { cls: 2, data: 1, machine: 0x15 },
  ppc64: { cls: 2, data: 2, machine: 0x15 },
  s390x: { cls: 2, data: 2, machine: 0x16 },
  riscv64: { cls: 2, data: 1, machine: 0xf3 },
  mips64le: { cls: 2, data: 1, machine: 0x08 },
  loong64: { cls: 2, data: 1, machine: 0x102 },
};

/** Architectures a CPU of the key runs without emulation. */
const NATIVE: Record<string, string[]> = { amd64: ["amd64", "386"], arm64: ["arm64"] };

export function runsNatively(hostArch: string, arch: string): boolean {
  return (NATIVE[hostArch] ?? [hostArch]).includes(arch);
}

/** The first 20 bytes of an executable of `arch` (ET_EXEC), as the kernel matches them; undefined when unknown. */
export function elfHeader(arch: string): Uint8Array | undefined {
  const e = ELF[arch];
  if (!e) return undefined;
  const h = new Uint8Array(20);
  h.set([0x7f, 0x45, 0x4c, 0x46, e.cls, e.data, 1]);
  const le = e.data === 1;
  const u16 = (off: number, v: number) => { h[off + (le ? 0 : 1)] = v & 0xff; h[off + (le ? 1 : 0)] = v >> 8; };
  u16(16, 2);
  u16(18, e.machine);
  return h;
}

export interface BinfmtHandler {
  name: string;
  interpreter: string;
  /** F: the kernel opened the interpreter at registration, so it works inside any root (a container's too). */
  fixBinary: boolean;
}

export type EmulationCheck =
  | { kind: "native" }
  | { kind: "handler"; handler: BinfmtHandler }
  | { kind: "none" }
  /** binfmt_misc is not mounted here (as in most containers), so the handler table cannot be read. */
  | { kind: "unknown"; why: string };

/** Parses one handler file of binfmt_misc; undefined for a disabled or extension-matching one. */
export function parseHandler(name: string, text: string): (BinfmtHandler & { offset: number; magic: Uint8Array; mask: Uint8Array }) | undefined {
  const field = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(text)?.[1]?.trim();
  const magic = field("magic");
  if (!/^enabled/m.test(text) || magic === undefined) return undefined;
  const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
  const m = hex(magic);
  const mask = field("mask");
  return {
    name, interpreter: field("interpreter") ?? "", fixBinary: (field("flags:") ?? "").includes("F"),
    offset: Number(field("offset") ?? 0), magic: m, mask: mask ? hex(mask) : new Uint8Array(m.length).fill(0xff),
  };
}

/** Which handler, if any, would run `arch`'s executables on a host of `hostArch` (reads `dir`, binfmt_misc). */
export function checkEmulation(hostArch: string, arch: string, dir = MISC): EmulationCheck {
  if (runsNatively(hostArch, arch)) return { kind: "native" };
  const header = elfHeader(arch);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    return { kind: "unknown", why: `${dir} cannot be read (${(e as NodeJS.ErrnoException).code})` };
  }
  if (!names.includes("status")) return { kind: "unknown", why: `binfmt_misc is not mounted on ${dir}` };
  if (/^disabled/.test(readText(join(dir, "status")))) return { kind: "none" };
  for (const name of names.sort()) {
    if (name === "status" || name === "register") continue;
    const h = parseHandler(name, readText(join(dir, name)));
    if (!h || !header) continue;
    const matches = h.magic.every((b, i) => h.offset + i < header.length && (header[h.offset + i] & h.mask[i]) === (b & h.mask[i]));
    if (matches) return { kind: "handler", handler: { name: h.name, interpreter: h.interpreter, fixBinary: h.fixBinary } };
  }
  return { kind: "none" };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** How to register emulation for `arch`, for the error that says none is there. */
export function registerHint(arch: string): string {
  return `register a qemu-user handler with the F flag, e.g. \`docker run --privileged --rm tonistiigi/binfmt --install ${arch}\`, or on Debian/Ubuntu \`apt-get install qemu-user-static binfmt-support\``;
}
