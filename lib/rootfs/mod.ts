// Public face of lib/rootfs: everything that touches a build root.
export { RootFS, type RootFSOptions, type SnapshotOptions, type ApplyLayerOptions } from "./rootfs.ts";
export type { SnapshotMode } from "./index.ts";
export { XattrError } from "./xattr.ts";
export { resolveUser, type ResolvedUser } from "./user.ts";
export { LayerApplyError, UserLookupError } from "./errors.ts";
export { resolveInRoot, layerPath } from "./paths.ts";
export { mountIgnorePaths } from "./ignore.ts";
