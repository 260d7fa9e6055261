// A build context is a local directory plus its .dockerignore rules.
import { existsSync, statSync, readFileSync } from "node:fs";
import { resolve, join } from "node:path";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";

export class ContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContextError";
  }
}

export interface BuildContext {
  /** Absolute path of the local directory holding the context. */
  dir: string;
  ignore: IgnoreMatcher;
  /** Removes what fetching the context created (nothing for a local directory). */
  cleanup(): Promise<void>;
}

export interface OpenContextOptions {
  /** Path of the Dockerfile in use: `<Dockerfile>.dockerignore` beside it wins over the context's `.dockerignore`. */
  dockerfilePath?: string;
  contextSubPath?: string;
}

/** Opens `dir://path`, or a plain path. Other sources (tar, s3, git, ...) are not supported yet. */
export async function openContext(spec: string, opts: OpenContextOptions = {}): Promise<BuildContext> {
  const m = /^([a-z0-9]+):\/\/(.*)$/.exec(spec);
  if (m && m[1] !== "dir") {
    throw new ContextError(`--context ${spec}: the "${m[1]}://" context source is not supported yet; use a local directory (dir://PATH)`);
  }
  let dir = resolve(m ? m[2] : spec);
  if (m && opts.contextSubPath) dir = join(dir, opts.contextSubPath);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ContextError(`--context ${spec}: ${dir} is not a directory`);
  }
  return { dir, ignore: loadIgnore(dir, opts.dockerfilePath), cleanup: async () => {} };
}

/** The context with the ignore rules that go with the Dockerfile found in it (opened once, before it was known). */
export function forDockerfile(ctx: BuildContext, dockerfilePath: string): BuildContext {
  return { ...ctx, ignore: loadIgnore(ctx.dir, dockerfilePath) };
}

function loadIgnore(dir: string, dockerfilePath?: string): IgnoreMatcher {
  const candidates = [dockerfilePath ? `${dockerfilePath}.dockerignore` : undefined, join(dir, ".dockerignore")];
  for (const c of candidates) {
    if (c && existsSync(c)) return new IgnoreMatcher(parseDockerignore(readFileSync(c, "utf8")));
  }
  return new IgnoreMatcher([]);
}
