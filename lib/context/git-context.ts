// git:// and https://....git build contexts with kaniko's --git options (issue 14; being written).
import { ContextError } from "./context.ts";
import type { GitFetcher } from "./source.ts";

export const fetchGitContext: GitFetcher = async (spec) => {
  throw new ContextError(`--context ${spec}: git contexts are not supported yet`);
};
