// Where a stage's base comes from: an earlier stage of the build, scratch, the warmer's cache directory, or a registry.
import type { Image, Platform } from "../image/mod.ts";
import { scratchImage } from "../image/mod.ts";
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
  /** Pulls one platform of an image from its registry. */
  pull(ref: string, platform: Platform): Promise<Image>;
  /** The warmer's directory (--cache-dir), consulted before the registry. */
  baseCache?: BaseImageCache;
}

/** Resolves the base `name` of the stage at `where` (the FROM line that failures name). */
export async function resolveBase(name: string, platform: Platform, sources: BaseSources, where: { file: string; line: number }): Promise<StageBase> {
  const stage = await sources.earlierStage(name);
  if (stage) {
    return { image: stage.image, root: stage.root, argEnv: stage.argEnv, ...(stage.cacheKey !== undefined ? { cacheKey: stage.cacheKey } : {}) };
  }
  if (name.toLowerCase() === "scratch") return { image: scratchBase(platform) };
  try {
    const cached = await sources.baseCache?.get(name, platform);
    return { image: cached ?? await sources.pull(name, platform) };
  } catch (e) {
    throw new BuildError(`${where.file}:${where.line}: FROM ${name}: ${(e as Error).message}`, where);
  }
}

/** BuildKit's empty image: no layers, and WorkingDir "/" in its config. */
export function scratchBase(platform: Platform): Image {
  const empty = scratchImage(platform);
  return { ...empty, config: { ...empty.config, config: { ...empty.config.config, WorkingDir: "/" } } };
}
