export { openContext, forDockerfile, ContextError } from "./context.ts";
export type { BuildContext, OpenContextOptions } from "./context.ts";
export { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";
export { resolveSource } from "./sources.ts";
export type { ResolvedSource } from "./sources.ts";
export { fetchGit, isGitUrl, parseGitUrl, type GitRef } from "./git.ts";
export { SourceFilter } from "./selection.ts";
export { contextSourcesDigest } from "./digest.ts";
