// Where a finished image goes: registries, a docker-archive tarball, an OCI layout and digest files.
// Pushes happen first; local files are written only after every push succeeded.
import { rename, rm, writeFile } from "node:fs/promises";
import type { Image } from "../image/mod.ts";
import { familiarName, parseReference, serializeImage, toOciFormat, writeDockerArchive, writeOciLayout } from "../image/mod.ts";
import type { RegistryClient } from "../registry/mod.ts";
import type { BuildOptions } from "./options.ts";

export interface OutputResult {
  digest: string;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.kiln-tmp-${process.pid}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function writeOutputs(image: Image, options: BuildOptions, registry: () => RegistryClient): Promise<OutputResult> {
  const log = options.logger;
  // An OCI layout holds OCI media types (umoci and skopeo reject Docker ones there), so a Docker-typed image is
  // converted for it; the digest reported is that of the image as pushed or tarred, else of the layout's.
  const pushesOrTars = (!options.noPush && options.destinations.length > 0) || !!options.tarPath;
  const digest = serializeImage(pushesOrTars ? image : toOciFormat(image)).manifestDescriptor.digest;
  if (!options.noPush && options.destinations.length) {
    log.info(`Pushing image to ${options.destinations.join(", ")}`);
    await registry().push(image, options.destinations);
    for (const d of options.destinations) log.info(`Pushed ${d}@${digest}`);
  }
  // Each file goes through a temp file; if a later one fails, the ones this build already wrote are removed too,
  // so a failed build leaves no output at all.
  const written: string[] = [];
  const done = (path: string) => written.push(path);
  const writeText = async (path: string, text: string) => {
    await writeAtomically(path, text);
    done(path);
  };
  try {
    if (options.tarPath) {
      const tags = options.destinations.length
        ? options.destinations.map((d) => familiarName(parseReference(d)))
        : ["unset-repo/unset-image-name:latest"];
      await writeDockerArchive(image, options.tarPath, tags);
      done(options.tarPath);
      log.info(`Wrote docker-archive ${options.tarPath}`);
    }
    if (options.ociLayoutPath) {
      const first = options.destinations[0];
      const refName = first ? parseReference(first).tag ?? "latest" : "latest";
      await writeOciLayout(toOciFormat(image), options.ociLayoutPath, { refName });
      done(options.ociLayoutPath);
      log.info(`Wrote OCI layout ${options.ociLayoutPath}`);
    }
    if (options.digestFile) await writeText(options.digestFile, digest);
    const names = options.destinations.map((d) => parseReference(d));
    if (options.imageNameWithDigestFile) {
      await writeText(options.imageNameWithDigestFile, names.map((r) => `${r.registry}/${r.repository}@${digest}`).join("\n") + "\n");
    }
    if (options.imageNameTagWithDigestFile) {
      await writeText(
        options.imageNameTagWithDigestFile,
        names.map((r) => `${r.registry}/${r.repository}:${r.tag ?? "latest"}@${digest}`).join("\n") + "\n",
      );
    }
  } catch (e) {
    for (const path of written) await rm(path, { recursive: true, force: true });
    throw e;
  }
  return { digest };
}
