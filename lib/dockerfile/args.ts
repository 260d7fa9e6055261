// Meta ARGs (before the first FROM) and the FROM line they feed.
import { expand, ExpansionError } from "../shell/mod.ts";
import { DockerfileError } from "./errors.ts";
import type { Dockerfile, Stage } from "./types.ts";

export type ArgValues = ReadonlyMap<string, string | undefined>;

/**
 * The values of the meta ARGs, in declaration order: a `--build-arg` wins, else the default expanded with the
 * meta ARGs and builtins seen so far. `builtins` are the automatic platform args (BUILDPLATFORM,
 * TARGETPLATFORM, TARGETOS, ...); they are visible to FROM even without an `ARG` line, as in BuildKit.
 * An ARG without default and without a build-arg is declared but unset (undefined), a builtin of that name too.
 */
export function resolveMetaArgs(
  df: Pick<Dockerfile, "metaArgs" | "escape" | "file">,
  buildArgs: Readonly<Record<string, string>>,
  builtins: Readonly<Record<string, string>> = {},
): Map<string, string | undefined> {
  const scope = new Map<string, string | undefined>(Object.entries(builtins));
  for (const instr of df.metaArgs) {
    for (const arg of instr.args) {
      try {
        const name = expand(arg.name, (n) => scope.get(n), { escape: df.escape });
        if (Object.hasOwn(buildArgs, name)) scope.set(name, buildArgs[name]);
        else if (arg.default !== undefined) scope.set(name, expand(arg.default, (n) => scope.get(n), { escape: df.escape }));
        // The last declaration wins, so a bare ARG unsets even an automatic platform arg (Docker 20.10's BuildKit).
        else scope.set(name, undefined);
      } catch (e) {
        if (e instanceof ExpansionError) throw new DockerfileError(df.file, instr.line, e.message, instr.original);
        throw e;
      }
    }
  }
  return scope;
}

export interface ResolvedBase {
  image: string;
  platform?: string;
}

/** Expands a stage's FROM image and --platform with the meta ARG values. */
export function resolveStageBase(
  stage: Stage,
  metaArgValues: ArgValues,
  opts: { escape?: string; file?: string } = {},
): ResolvedBase {
  const file = opts.file ?? "Dockerfile";
  const lookup = (n: string) => metaArgValues.get(n);
  try {
    const image = expand(stage.base, lookup, { escape: opts.escape });
    if (image.trim() === "") {
      throw new DockerfileError(file, stage.line, `base name (${stage.base}) should not be blank`, stage.from.original);
    }
    const platform = stage.platform === undefined ? undefined : expand(stage.platform, lookup, { escape: opts.escape });
    return { image, platform };
  } catch (e) {
    if (e instanceof ExpansionError) throw new DockerfileError(file, stage.line, e.message, stage.from.original);
    throw e;
  }
}
