// Small real images for tests of the registry client and the CLI: a gzip tar layer with a known diffID, written to a temp file.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer, sha256, type Image, type Layer, type Platform } from "../../lib/image/mod.ts";

export interface TinyImage {
  image: Image;
  dir: string;
  cleanup(): Promise<void>;
}

async function tarOf(dir: string, files: Record<string, string>): Promise<Uint8Array<ArrayBuffer>> {
  const root = join(dir, "root");
  for (const [name, content] of Object.entries(files)) {
    await Bun.write(join(root, name), content);
  }
  // Fixed owner and mtime give the same bytes every run.
  const p = Bun.spawn(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", root, "-cf", "-", "."], { stdout: "pipe" });
  const bytes = new Uint8Array(await new Response(p.stdout).arrayBuffer());
  if ((await p.exited) !== 0) throw new Error("tar failed while making a test layer");
  return bytes;
}

export async function tinyLayer(dir: string, files: Record<string, string>, format: "oci" | "docker"): Promise<Layer> {
  const tar = await tarOf(await mkdtemp(join(dir, "l-")), files);
  const gz = Bun.gzipSync(tar);
  const path = join(dir, `${sha256(gz).slice(7)}.tar.gz`);
  await writeFile(path, gz);
  return fileLayer({
    path,
    mediaType: format === "oci" ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.docker.image.rootfs.diff.tar.gzip",
    digest: sha256(gz),
    size: gz.byteLength,
    diffID: sha256(tar),
  });
}

export async function tinyImage(o: { format?: "oci" | "docker"; platform?: Platform; files?: Record<string, string>[] } = {}): Promise<TinyImage> {
  const format = o.format ?? "oci";
  const platform = o.platform ?? { os: "linux", architecture: "amd64" };
  const dir = await mkdtemp(join(tmpdir(), "kiln-reg-test-"));
  const files = o.files ?? [{ "hello.txt": `hello ${platform.architecture}\n` }, { "etc/motd": "second layer\n" }];
  const layers: Layer[] = [];
  for (const f of files) layers.push(await tinyLayer(dir, f, format));
  const image: Image = {
    format,
    layers,
    config: {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
      history: layers.map((_, i) => ({ created_by: `layer ${i}` })),
    },
  };
  return { image, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}
