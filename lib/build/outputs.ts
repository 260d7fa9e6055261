// Where a finished image goes: registries, a docker-archive tarball, an OCI layout and digest files.
// Pushes happen first; local files are written only after every push succeeded.
import { writeFile } from "node:fs/promises";
import type { Image } from "../image/mod.ts";
import { familiarName, OutputStage, parseReference, serializeImage, toOciFormat, writeDockerArchiveAt, writeOciLayoutAt } from "../image/mod.ts";
import type { RegistryClient } from "../registry/mod.ts";
import type { BuildOptions } from "./options.ts";

export interface OutputResult {
  digest: string;
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
  // Every file is staged beside its destination and all are moved into place at the end: if one fails, no
  // destination changes (an output from an earlier build stays as it was).
  const stage = new OutputStage();
  const written: string[] = [];
  try {
    if (options.tarPath) {
      const tags = options.destinations.length
        ? options.destinations.map((d) => familiarName(parseReference(d)))
        : ["unset-repo/unset-image-name:latest"];
      await writeDockerArchiveAt(image, stage.path(options.tarPath), tags);
      written.push(`docker-archive ${options.tarPath}`);
    }
    if (options.ociLayoutPath) {
      const first = options.destinations[0];
      const refName = first ? parseReference(first).tag ?? "latest" : "latest";
      await writeOciLayoutAt(toOciFormat(image), stage.path(options.ociLayoutPath), { refName });
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
    await stage.commit();
  } catch (e) {
    await stage.discard();
    throw e;
  }
  for (const w of written) log.info(`Wrote ${w}`);
  return { digest };
}
