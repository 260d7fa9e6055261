// s3:// build contexts (issue 14; being written).
import { ContextError } from "./context.ts";
import type { ArchiveFetcher } from "./source.ts";

export const fetchS3: ArchiveFetcher = async (spec) => {
  throw new ContextError(`--context ${spec}: s3:// contexts are not supported yet`);
};
