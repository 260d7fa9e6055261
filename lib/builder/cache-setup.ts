// The layer cache of one build (--cache): which store (kaniko's inference of the cache repository, or oci:DIR),
// and how a step's key is computed from what the builder knows (the context, earlier stages, pulled images).
import type { Dockerfile, Instruction } from "../dockerfile/mod.ts";
import type { BuildContext } from "../context/mod.ts";
import { serializeImage, parseReference, type Image, type Platform } from "../image/mod.ts";
import { baseKey, contextKeyInputs, OciLayoutLayerCache, RegistryLayerCache, stepKey, stepKeyNeeds, type LayerCache } from "../cache/mod.ts";
import type { RegistryClient } from "../registry/mod.ts";
import type { StageState } from "../instructions/mod.ts";
import type { BuildOptions } from "./options.ts";
import { BuildError } from "./errors.ts";
import type { StepKeyFunction } from "./layer-step-cache.ts";
import { findStage } from "./plan.ts";

/** The store --cache-repo names, or kaniko's default `<first destination's repository>/cache`. */
export function cacheStore(options: BuildOptions, registry: () => RegistryClient): LayerCache {
  const ttlMs = options.cacheTtl;
  const repo = options.cache.repo;
  if (repo?.startsWith("oci:")) return new OciLayoutLayerCache({ dir: repo.slice(4), ttlMs });
  if (repo !== undefined) return new RegistryLayerCache({ client: registry(), repo, ttlMs });
  const first = options.destinations[0];
  if (options.noPush || first === undefined) {
    throw new BuildError("--cache needs --cache-repo when nothing is pushed (kaniko infers it from the first --destination): give a repository or oci:DIR");
  }
  const r = parseReference(first);
  return new RegistryLayerCache({ client: registry(), repo: `${r.registry}/${r.repository}/cache`, ttlMs });
}

/** The parent key of a stage's first step when its base is an image (not an earlier stage). */
export function imageBaseKey(name: string, image: Image, platform: Platform): string {
  // kiln's serialization of the base: the same whether it came from its registry or from the warmer's directory.
  return name.toLowerCase() === "scratch" ? baseKey("scratch", platform) : baseKey(serializeImage(image).manifestDescriptor.digest, platform);
}

export interface StepKeysInput {
  df: Dockerfile;
  options: BuildOptions;
  buildContext: BuildContext;
  /** The cache key of an earlier stage once it is built (undefined when it has none). */
  stageKey(index: number): Promise<string | undefined>;
  /** An image named by COPY --from / RUN --mount from=, for its key. */
  image(ref: string): Promise<Image>;
  /** The build's context digests so far (contextKeyInputs), shared by all stages: the context does not change during a build. */
  contextDigests: Map<string, string>;
}

/** The step-key function of the stage at `stageIndex`. */
export function stepKeys(input: StepKeysInput, stageIndex: number): StepKeyFunction {
  const { df, options } = input;
  return async (parent: string, instr: Instruction, state: StageState) => {
    const needs = stepKeyNeeds(instr);
    // An ADD of a URL without --checksum, or of a git source: only running the step can tell its content.
    if (needs.remote.length > 0) return undefined;
    const fromKeys = new Map<string, string>();
    for (const from of needs.from) {
      const dep = findStage(df, from, stageIndex);
      const key = dep ? await input.stageKey(dep.index) : imageBaseKey(from, await input.image(from), options.platform);
      if (key === undefined) return undefined;
      fromKeys.set(from, key);
    }
    return stepKey({ parent, instruction: instr, state, build: options, ...contextKeyInputs(instr, input.buildContext, input.contextDigests), fromKeys });
  };
}
