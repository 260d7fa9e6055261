import type { Platform } from "./types.ts";

const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** "linux/arm/v7" -> {os, architecture, variant}; normalised as containerd does. */
export function parsePlatform(s: string): Platform {
  const [os, arch, variant, ...extra] = s.split("/");
  if (!os || !arch || extra.length) throw new Error(`invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64`);
  let architecture = arch.toLowerCase();
  let v: string | undefined = variant?.toLowerCase();
  if (architecture === "x86_64" || architecture === "x86-64") architecture = "amd64";
  if (architecture === "aarch64") architecture = "arm64";
  if (architecture === "arm64" && v === "v8") v = undefined;
  if (architecture === "armhf") { architecture = "arm"; v = "v7"; }
  if (architecture === "armel") { architecture = "arm"; v = "v6"; }
  return { os: os.toLowerCase(), architecture, ...(v ? { variant: v } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return { os: "linux", architecture, ...(architecture === "arm" ? { variant: "v7" } : {}) };
}

export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  if (want.variant && have.variant && want.variant !== have.variant) return false;
  if (want.variant && !have.variant) return want.architecture === "arm64" && want.variant === "v8";
  return true;
}
