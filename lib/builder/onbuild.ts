// ONBUILD: the base config's triggers run as the stage's first steps and are not inherited further (BuildKit).
import type { Dockerfile, Instruction, Stage } from "../dockerfile/mod.ts";
import { parseDockerfile } from "../dockerfile/mod.ts";
import type { ImageConfig } from "../image/mod.ts";
import { BuildError } from "./errors.ts";

/** The base config's ONBUILD triggers parsed as instructions (reported at the stage's FROM line). */
export function onbuildTriggers(config: ImageConfig, df: Dockerfile, stage: Stage): Instruction[] {
  const list = config.config.OnBuild ?? [];
  if (list.length === 0) return [];
  try {
    const parsed = parseDockerfile(`FROM scratch\n${list.join("\n")}\n`, { file: `${df.file} (ONBUILD triggers of the base of line ${stage.line})` });
    return parsed.stages[0].instructions.map((i) => ({ ...i, line: stage.line }));
  } catch (e) {
    throw new BuildError(`${df.file}:${stage.line}: the base image's ONBUILD triggers do not parse: ${(e as Error).message}`, { file: df.file, line: stage.line });
  }
}

/** A copy of `config` without triggers: the stage owns it, and they do not pass to images built from this one. */
export function withoutTriggers(config: ImageConfig): ImageConfig {
  const own = structuredClone(config);
  if (own.config.OnBuild) own.config = { ...own.config, OnBuild: null };
  return own;
}
