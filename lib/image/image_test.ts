import { expect, test } from "bun:test";
import { appendLayer, layerMediaType, scratchImage, serializeImage, type Image, type Layer } from "./image.ts";
import { MediaType } from "./types.ts";

const layer = (mediaType: string, n: number): Layer => ({
  mediaType, digest: `sha256:${String(n).repeat(64)}`, size: n, diffID: `sha256:${String(n + 1).repeat(64)}`,
  open: async () => new Response(new Uint8Array()).body!,
});

test("a new layer's media type names its codec, whatever the base's format", () => {
  expect(layerMediaType("docker", "gzip")).toBe(MediaType.dockerLayerGzip);
  expect(layerMediaType("oci", "gzip")).toBe(MediaType.ociLayerGzip);
  // Docker schema 2 has no zstd layer type: the label was tar.gzip over zstd bytes.
  expect(layerMediaType("docker", "zstd")).toBe(MediaType.ociLayerZstd);
  expect(layerMediaType("oci", "zstd")).toBe(MediaType.ociLayerZstd);
  expect(layerMediaType("docker", "none")).toBe(MediaType.dockerLayer);
  expect(layerMediaType("oci", "none")).toBe(MediaType.ociLayer);
});

test("a zstd layer on a Docker-format image makes the image OCI (BuildKit forces OCI media types for zstd)", () => {
  const scratch = scratchImage({ os: "linux", architecture: "amd64" });
  const base: Image = appendLayer(scratch, layer(MediaType.dockerLayerGzip, 1), { created_by: "base" });
  const img = appendLayer(base, layer(layerMediaType(base.format, "zstd"), 3), { created_by: "RUN x" });
  expect(img.format).toBe("oci");
  expect(img.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerZstd]);
  const manifest = JSON.parse(new TextDecoder().decode(serializeImage(img).manifestBytes));
  expect(manifest.mediaType).toBe(MediaType.ociManifest);
  expect(manifest.config.mediaType).toBe(MediaType.ociConfig);
  // Bytes unchanged: same digests, same diffIDs.
  expect(img.layers.map((l) => l.digest)).toEqual([base.layers[0].digest, `sha256:${"3".repeat(64)}`]);
  expect(img.config.rootfs.diff_ids).toEqual([`sha256:${"2".repeat(64)}`, `sha256:${"4".repeat(64)}`]);
});

test("gzip layers keep a Docker-format image Docker", () => {
  const base = scratchImage({ os: "linux", architecture: "amd64" });
  const img = appendLayer(base, layer(layerMediaType(base.format, "gzip"), 1), { created_by: "COPY a /" });
  expect(img.format).toBe("docker");
  expect(img.layers[0].mediaType).toBe(MediaType.dockerLayerGzip);
});
