// Base images for tests, made offline and reproducibly by scripts/base-images.sh, so a test
// never needs the internet and a digest seen once is the digest seen every time.
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
