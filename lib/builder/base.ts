// Where a stage's base comes from: an earlier stage of the build, scratch, the warmer's cache directory, or a registry.
import type { Image, Platform } from "../image/mod.ts";
import { formatPlatform, scratchImage } from "../image/mod.ts";
import type { BaseImageCache } from "../cache/mod.ts";
import { BuildError } from "./errors.ts";
import type { StageResult } from "./stage.ts";

export interface StageBase {
  image: Image;
  /** The root of the base when it is an earlier stage (copied instead of applying its layers again). */
  root?: () => Promise<string>;
  /** The earlier stage's cache key (--cache). */
  cacheKey?: string;
  /** The earlier stage's ARG values in the build env, which a stage FROM it starts with (BuildKit). */
  argEnv?: ReadonlyMap<string, string>;
}

export interface BaseSources {
  /** The result of the earlier stage `name` names (FROM <stage>), or undefined when it names none. */
  earlierStage(name: string): Promise<StageResult | undefined>;
  /** One platform of an image: from the warmer's directory or its registry (buildImages()). */
  pull(ref: string, platform: Platform): Promise<Image>;
}

/**
 * Where a build's images come from (FROM, COPY --from, RUN --mount from=, and their cache keys): the warmer's
 * directory (--cache-dir) first, then the registry; each image and platform once per build, however many
 * stages and steps name it. A failed fetch is forgotten, so the next asker tries again.
 */
export function buildImages(pull: (ref: string, platform: Platform) => Promise<Image>, baseCache?: BaseImageCache): (ref: string, platform: Platform) => Promise<Image> {
  const memo = new Map<string, Promise<Image>>();
  return (ref, platform) => {
    const key = `${ref}\0${formatPlatform(platform)}\0${platform["os.version"] ?? ""}\0${(platform["os.features"] ?? []).join(",")}`;
    let p = memo.get(key);
    if (!p) {
      p = (async () => (await baseCache?.get(ref, platform)) ?? await pull(ref, platform))();
      memo.set(key, p);
      p.catch(() => memo.delete(key));
    }
    return p;
  };
}

/** Resolves the base `name` of the stage at `where` (the FROM line that failures name). */
export async function resolveBase(name: string, platform: Platform, sources: BaseSources, where: { file: string; line: number }): Promise<StageBase> {
  const stage = await sources.earlierStage(name);
  if (stage) {
    return { image: stage.image, root: stage.root, argEnv: stage.argEnv, ...(stage.cacheKey !== undefined ? { cacheKey: stage.cacheKey } : {}) };
  }
  if (name.toLowerCase() === "scratch") return { image: scratchBase(platform) };
  try {
    return { image: await sources.pull(name, platform) };
  } catch (e) {
    throw new BuildError(`${where.file}:${where.line}: FROM ${name}: ${(e as Error).message}`, where);
  }
}

/** BuildKit's empty image: no layers, and WorkingDir "/" in its config. */
export function scratchBase(platform: Platform): Image {
  const empty = scratchImage(platform);
  return { ...empty, config: { ...empty.config, config: { ...empty.config.config, WorkingDir: "/" } } };
}
