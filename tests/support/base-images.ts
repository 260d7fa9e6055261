// Base images for tests, made offline and reproducibly by scripts/base-images.sh, so a test
// never needs the internet and a digest seen once is the digest seen every time.
import { createHash } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runTool } from "./image-assert.ts";
import type { TestRegistry } from "./registry.ts";

const SCRIPT = resolve(import.meta.dir, "../../scripts/base-images.sh");

/** The tag base-images.sh gives the image in its layout's index.json. */
export const BUSYBOX_LAYOUT_TAG = "latest";

/**
 * Path of the busybox OCI layout, built on first use and cached in <repo>/.cache/images/busybox
 * (or built into `opts.dir`). Reuse is checked by the script: same busybox, same recipe, intact blobs.
 */
export async function busyboxLayout(opts: { dir?: string } = {}): Promise<string> {
  const out = await runTool(["bash", SCRIPT, ...(opts.dir ? [opts.dir] : [])]);
  const lines = out.trim().split("\n");
  return lines[lines.length - 1];
}

/**
 * Pushes the busybox layout to `reg` as <host>/<repo>:<tag> and returns that reference.
 * Digests are preserved, so the pushed manifest digest equals the layout's.
 */
export async function pushBusybox(reg: TestRegistry, repo = "busybox", tag = "latest"): Promise<string> {
  const layout = await busyboxLayout();
  const ref = `${reg.host}/${repo}:${tag}`;
  const flags: string[] = [];
  if (reg.username !== undefined) flags.push("--dest-creds", `${reg.username}:${reg.password ?? ""}`);
  const certDir = await registryCertDir(reg);
  try {
    flags.push(...(certDir ? ["--dest-cert-dir", certDir, "--dest-tls-verify=true"] : ["--dest-tls-verify=false"]));
    await runTool(["skopeo", "copy", "-q", "--preserve-digests", ...flags, `oci:${layout}:${BUSYBOX_LAYOUT_TAG}`, `docker://${ref}`]);
  } finally {
    if (certDir) await rm(certDir, { recursive: true, force: true });
  }
  return ref;
}

/** A --cert-dir for skopeo (which reads CAs only from a directory of *.crt files) holding the registry's CA, or undefined for plain HTTP. Remove it when done. */
export async function registryCertDir(reg: TestRegistry): Promise<string | undefined> {
  if (!reg.caFile) return undefined;
  const dir = await mkdtemp(join(tmpdir(), "kiln-certs-"));
  await Bun.write(join(dir, "ca.crt"), Bun.file(reg.caFile));
  return dir;
}

const ARM64_DEPS = resolve(import.meta.dir, "../../scripts/arm64-deps.sh");
const CACHE = resolve(import.meta.dir, "../../.cache/images");

/**
 * The busybox layout for linux/arm64, from Debian's busybox-static:arm64 (fetched by scripts/arm64-deps.sh into a
 * git-ignored cache of its own, without touching the system's apt setup). base-images.sh runs that busybox to
 * list its applets, so arm64 emulation must be registered first (tests/support/binfmt.ts).
 */
export async function busyboxArm64Layout(): Promise<string> {
  const env = { ...process.env, KILN_ARM64_DEPS: join(CACHE, "arm64-busybox-deps") };
  const root = (await runToolEnv(["bash", ARM64_DEPS], env)).trim().split("\n").pop()!;
  const out = await runToolEnv(["bash", SCRIPT, join(CACHE, "busybox-arm64")], { ...process.env, BUSYBOX: join(root, "bin/busybox"), BUSYBOX_ARCH: "arm64" });
  return out.trim().split("\n").pop()!;
}

async function runToolEnv(cmd: string[], env: Record<string, string | undefined>): Promise<string> {
  const p = Bun.spawn(cmd, { env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err.trim()}`);
  return out;
}

/**
 * Pushes a two-platform busybox (linux/amd64 and linux/arm64, each manifest as in its layout) to `reg` as one
 * index under <host>/<repo>:<tag>; returns that reference. The index is put together in a temp layout whose
 * index.json names it, and skopeo copies it with --all.
 */
export async function pushBusyboxIndex(reg: TestRegistry, repo = "busybox-multi", tag = "latest"): Promise<string> {
  const layouts: [string, string][] = [[await busyboxLayout(), "amd64"], [await busyboxArm64Layout(), "arm64"]];
  const dir = await mkdtemp(join(tmpdir(), "kiln-busybox-index-"));
  try {
    const manifests = [];
    for (const [layout, architecture] of layouts) {
      cpSync(join(layout, "blobs"), join(dir, "blobs"), { recursive: true });
      const entry = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0];
      manifests.push({ mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform: { architecture, os: "linux" } });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
    const hex = createHash("sha256").update(index).digest("hex");
    writeFileSync(join(dir, "blobs/sha256", hex), index);
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(join(dir, "index.json"), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: `sha256:${hex}`, size: index.byteLength, annotations: { "org.opencontainers.image.ref.name": "multi" } }],
    }));
    const ref = `${reg.host}/${repo}:${tag}`;
    const certDir = await registryCertDir(reg);
    try {
      const flags = certDir ? ["--dest-cert-dir", certDir, "--dest-tls-verify=true"] : ["--dest-tls-verify=false"];
      if (reg.username !== undefined) flags.push("--dest-creds", `${reg.username}:${reg.password ?? ""}`);
      await runTool(["skopeo", "copy", "-q", "--all", "--preserve-digests", ...flags, `oci:${dir}:multi`, `docker://${ref}`]);
    } finally {
      if (certDir) await rm(certDir, { recursive: true, force: true });
    }
    return ref;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
