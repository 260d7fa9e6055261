// The warmer's front: which images to fetch (--image, and every FROM of --dockerfile after expansion) and the
// defaults; lib/cache fetches and stores them. It lives in builder/ because reading FROM lines takes the Dockerfile
// frontend and the build plan, which lib/cache may not use.
import { readFile } from "node:fs/promises";
import { parseDockerfile } from "../dockerfile/mod.ts";
import { hostPlatform, parsePlatform, type Platform } from "../image/mod.ts";
import { silentLogger, type Logger } from "../log/mod.ts";
import type { RegistryOptions } from "../registry/mod.ts";
import { warmImages, type WarmResult } from "../cache/mod.ts";
import { BuildError } from "./errors.ts";
import { OPTION_DEFAULTS, resolveRegistryOptions } from "./options.ts";
import { findStage, planBuild } from "./plan.ts";

export interface WarmOptions {
  /** --image: references to cache (repeatable). */
  images: string[];
  /** --dockerfile: a path or an http(s) URL whose FROM images are cached. */
  dockerfile?: string;
  /** --build-arg values the FROM lines of the Dockerfile see. */
  buildArgs: Record<string, string | undefined>;
  cacheDir: string;
  /** --cache-ttl in ms: a tag reference fetched longer ago is fetched again. */
  cacheTtl: number;
  /** --force: fetch even entries that are still fresh. */
  force: boolean;
  platform: Platform;
  registry: RegistryOptions;
  logger: Logger;
  now?: () => Date;
}

export type WarmOptionsInput = Partial<WarmOptions> & {
  homeDir?: string;
  sslCertDir?: string;
  sslCertFile?: string;
};

export type { WarmResult };

/** Caches the images; the result lists each image that failed (the others are cached all the same). */
export async function warm(input: WarmOptionsInput): Promise<WarmResult> {
  const { homeDir, sslCertDir, sslCertFile, ...rest } = input;
  const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<WarmOptions>;
  const o: WarmOptions = {
    images: [],
    buildArgs: {},
    cacheDir: OPTION_DEFAULTS.cacheDir,
    cacheTtl: OPTION_DEFAULTS.cacheTtlMs,
    force: false,
    platform: hostPlatform(),
    logger: silentLogger,
    ...given,
    registry: resolveRegistryOptions(given.registry, { homeDir, sslCertDir, sslCertFile }),
  };
  if (o.images.length === 0 && o.dockerfile === undefined) throw new BuildError("nothing to warm: give --image (repeatable) or --dockerfile");
  const images = [
    ...o.images.map((ref) => ({ ref, platform: o.platform })),
    ...(o.dockerfile === undefined ? [] : await dockerfileImages(o.dockerfile, o.buildArgs, o.platform)),
  ];
  return warmImages({
    images, cacheDir: o.cacheDir, cacheTtlMs: o.cacheTtl, force: o.force, registry: o.registry, logger: o.logger, ...(o.now ? { now: o.now } : {}),
  });
}

/** Every image a FROM line names after expanding the meta ARGs, except earlier stages and scratch. */
async function dockerfileImages(path: string, buildArgs: Record<string, string | undefined>, platform: Platform) {
  let text: string;
  try {
    if (/^https?:\/\//.test(path)) {
      const res = await fetch(path);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } else text = await readFile(path, "utf8");
  } catch (e) {
    throw new BuildError(`cannot read the Dockerfile ${path} (${(e as Error).message}): check --dockerfile`);
  }
  const df = parseDockerfile(text, { file: path });
  // The plan expands FROM lines as a build would (meta ARGs, --build-arg, the platform ARGs); its warnings are a build's.
  const plan = planBuild(df, { buildArgs, platform, target: undefined, logger: silentLogger });
  const out: { ref: string; platform: Platform }[] = [];
  for (const stage of df.stages) {
    const base = plan.baseOf(stage);
    if (base.image.toLowerCase() === "scratch" || findStage(df, base.image, stage.index)) continue;
    out.push({ ref: base.image, platform: base.platform ? parsePlatform(base.platform) : platform });
  }
  return out;
}
