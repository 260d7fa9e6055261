// What each layer of an OCI layout holds, read with the system's tar and gzip (no kiln code), and whether any
// blob of the layout contains some bytes (secrets must not).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { runTool } from "./image-assert.ts";

function blobPath(layout: string, digest: string): string {
  return join(layout, "blobs", ...digest.split(":"));
}

/** The manifest of the only image in the layout. */
export function layoutManifest(layout: string): any {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  return JSON.parse(readFileSync(blobPath(layout, index.manifests[0].digest), "utf8"));
}

/** Paths in each layer (tar names without "./" and trailing "/"), in layer order. */
export async function layerPaths(layout: string): Promise<string[][]> {
  const out: string[][] = [];
  for (const l of layoutManifest(layout).layers) {
    const list = await runTool(["tar", "-tf", blobPath(layout, l.digest)]);
    out.push(list.split("\n").filter(Boolean).map((p) => p.replace(/^\.\//, "").replace(/\/$/, "")).filter((p) => p !== "" && p !== "."));
  }
  return out;
}

/** True when `needle` occurs in any blob of the layout (layers decompressed) or in the given texts. */
export function layoutContains(layout: string, needle: string): boolean {
  const dir = join(layout, "blobs", "sha256");
  for (const name of readdirSync(dir)) {
    let bytes: Buffer = readFileSync(join(dir, name));
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    if (bytes.includes(needle)) return true;
  }
  return false;
}
