// gs:// build contexts (issue 14; being written).
import { ContextError } from "./context.ts";
import type { ArchiveFetcher } from "./source.ts";

export const fetchGcs: ArchiveFetcher = async (spec) => {
  throw new ContextError(`--context ${spec}: gs:// contexts are not supported yet`);
};
