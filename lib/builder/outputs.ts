// Where a finished image goes: registries, a docker-archive tarball, an OCI layout and digest files.
// Every local destination is checked before the build starts; pushes happen first, and local files are written
// only after every push succeeded.
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Image } from "../image/mod.ts";
import {
  familiarName, hostPlatform, indexImages, isOciLayout, OutputStage, parseReference, serializeImage, serializeIndex, toOciFormat,
  writeDockerArchiveAt, writeIndexArchiveAt, writeOciIndexLayoutAt, writeOciLayoutAt, type PlatformImage,
} from "../image/mod.ts";
import { tarStream } from "../layer/mod.ts";
import type { RegistryClient } from "../registry/mod.ts";
import type { BuildOptions } from "./options.ts";
import { BuildError } from "./errors.ts";

export interface OutputResult {
  digest: string;
}

/**
 * Refuses, before anything is pulled or run, a destination kiln could only fill by destroying what it did not
 * write (a directory where a file goes, a directory that is not an OCI layout), or could not write at all.
 */
export function checkOutputPaths(options: BuildOptions): void {
  const files: [string, string | undefined][] = [
    ["--tar-path", options.tarPath],
    ["--digest-file", options.digestFile],
    ["--image-name-with-digest-file", options.imageNameWithDigestFile],
    ["--image-name-tag-with-digest-file", options.imageNameTagWithDigestFile],
  ];
  const seen = new Map<string, string>();
  for (const [flag, path] of [...files, ["--oci-layout-path", options.ociLayoutPath] as [string, string | undefined]]) {
    if (!path) continue;
    const abs = resolve(path);
    const other = seen.get(abs);
    if (other) throw new BuildError(`${flag} ${path}: ${other} names the same path; give each output its own`);
    seen.set(abs, flag);
    checkParent(flag, path, dirname(abs));
    const st = statOrUndefined(abs);
    if (!st) continue;
    if (flag !== "--oci-layout-path") {
      if (st.isDirectory()) throw new BuildError(`${flag} ${path}: is a directory; give the path of a file (kiln never replaces a directory with it)`);
    } else if (!st.isDirectory()) {
      throw new BuildError(`${flag} ${path}: is a file, not a directory; give a new or empty directory, or an earlier OCI layout to replace`);
    } else if (!isOciLayout(abs) && readdirSync(abs).length > 0) {
      throw new BuildError(`${flag} ${path}: is a directory that is neither empty nor an OCI image layout (no oci-layout file); kiln replaces only an earlier layout, so give a new or empty directory`);
    }
  }
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function checkParent(flag: string, path: string, parent: string): void {
  const st = statOrUndefined(parent);
  if (!st) throw new BuildError(`${flag} ${path}: the directory ${parent} does not exist; create it first`);
  if (!st.isDirectory()) throw new BuildError(`${flag} ${path}: ${parent} is not a directory`);
  try {
    accessSync(parent, constants.W_OK);
  } catch (e) {
    throw new BuildError(`${flag} ${path}: cannot write in ${parent} (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** One image, or an index of one image per platform, as the outputs write it. */
interface Artifact {
  /** What the digest files carry: the digest as pushed or tarred, else as in the OCI layout. */
  digest: string;
  push(client: RegistryClient, refs: string[]): Promise<unknown>;
  tar(path: string, tags: string[]): Promise<void>;
  layout(dir: string, refName: string): Promise<void>;
  /** What the log calls the tarball. */
  tarKind: string;
}

/** Pushes, then writes the local outputs through `stage` (discarded by the caller when the build is interrupted). */
export function writeOutputs(image: Image, options: BuildOptions, registry: () => RegistryClient, stage = new OutputStage()): Promise<OutputResult> {
  // An OCI layout holds OCI media types (umoci and skopeo reject Docker ones there), so a Docker-typed image is
  // converted for it; the digest reported is that of the image as pushed or tarred, else of the layout's.
  const digest = serializeImage(pushesOrTars(options) ? image : toOciFormat(image)).manifestDescriptor.digest;
  return write({
    digest, tarKind: "docker-archive",
    push: (client, refs) => client.push(image, refs),
    tar: (path, tags) => writeDockerArchiveAt(image, path, tags, tarStream),
    layout: async (dir, refName) => { await writeOciLayoutAt(toOciFormat(image), dir, { refName }); },
  }, options, registry, stage);
}

/**
 * The outputs of a multi-platform build: the registries get each image and an index naming them; the tarball
 * is an OCI archive of the index that `docker load` also reads (the host platform's image gets the tags); the
 * layout's index.json names the index and each platform's manifest. Tarball and layout hold OCI media types.
 */
export function writeIndexOutputs(images: PlatformImage[], options: BuildOptions, registry: () => RegistryClient, stage = new OutputStage()): Promise<OutputResult> {
  const pushed = indexImages(images);
  const local = images.map((i) => ({ ...i, image: toOciFormat(i.image) }));
  const pushes = !options.noPush && options.destinations.length > 0;
  const host = hostPlatform();
  const tagged = Math.max(0, local.findIndex((i) => i.platform.architecture === host.architecture && i.platform.os === host.os));
  return write({
    digest: serializeIndex(pushes ? pushed : local).descriptor.digest, tarKind: "OCI archive (and docker-archive) of the image index",
    push: (client, refs) => client.pushIndex(pushed, refs),
    tar: async (path, tags) => { await writeIndexArchiveAt(local, path, { refName: refNameOf(options), tags, tagged }, tarStream); },
    layout: async (dir, refName) => { await writeOciIndexLayoutAt(local, dir, { refName }); },
  }, options, registry, stage);
}

function pushesOrTars(options: BuildOptions): boolean {
  return (!options.noPush && options.destinations.length > 0) || !!options.tarPath;
}

/** The layout's tag: the first destination's, or latest. */
function refNameOf(options: BuildOptions): string {
  const first = options.destinations[0];
  return first ? parseReference(first).tag ?? "latest" : "latest";
}

async function write(artifact: Artifact, options: BuildOptions, registry: () => RegistryClient, stage: OutputStage): Promise<OutputResult> {
  const log = options.logger;
  const { digest } = artifact;
  if (!options.noPush && options.destinations.length) {
    log.info(`Pushing image to ${options.destinations.join(", ")}`);
    // The registry client logs each reference it pushed (a tag kept by --push-ignore-immutable-tag-errors is not).
    await artifact.push(registry(), options.destinations);
  }
  // Every file is staged beside its destination and all are moved into place at the end: if one fails, no
  // destination changes (an output from an earlier build stays as it was).
  const written: string[] = [];
  try {
    if (options.tarPath) {
      const tags = options.destinations.length
        ? options.destinations.map((d) => familiarName(parseReference(d)))
        : ["unset-repo/unset-image-name:latest"];
      await artifact.tar(stage.path(options.tarPath), tags);
      written.push(`${artifact.tarKind} ${options.tarPath}`);
    }
    if (options.ociLayoutPath) {
      await artifact.layout(stage.path(options.ociLayoutPath), refNameOf(options));
      written.push(`OCI layout ${options.ociLayoutPath}`);
    }
    if (options.digestFile) await writeFile(stage.path(options.digestFile), digest);
    const names = options.destinations.map((d) => parseReference(d));
    if (options.imageNameWithDigestFile) {
      await writeFile(stage.path(options.imageNameWithDigestFile), names.map((r) => `${r.registry}/${r.repository}@${digest}`).join("\n") + "\n");
    }
    if (options.imageNameTagWithDigestFile) {
      await writeFile(
        stage.path(options.imageNameTagWithDigestFile),
        names.map((r) => `${r.registry}/${r.repository}:${r.tag ?? "latest"}@${digest}`).join("\n") + "\n",
      );
    }
    stage.commit();
  } catch (e) {
    stage.discard();
    throw e;
  }
  for (const w of written) log.info(`Wrote ${w}`);
  return { digest };
}
