// Azure Blob build contexts (issue 14; being written).
import { ContextError } from "./context.ts";
import type { ArchiveFetcher } from "./source.ts";

export const fetchAzureBlob: ArchiveFetcher = async (spec) => {
  throw new ContextError(`--context ${spec}: Azure Blob contexts are not supported yet`);
};
