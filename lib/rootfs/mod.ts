// Public face of lib/rootfs: everything that touches a build root.
export { RootFS, type RootFSOptions, type SnapshotOptions } from "./rootfs.ts";
export type { SnapshotMode } from "./index.ts";
export { XattrError, getXattrs, setXattr } from "./xattr.ts";
export { archiveCodec, extractArchive, extractEntries, type ArchiveCodec, type ExtractOptions } from "./archive.ts";
export { resolveUser, type ResolvedUser } from "./user.ts";
export { ArchiveError, LayerApplyError, LayerDigestError, RootMoveError, UserLookupError } from "./errors.ts";
export { resolveInRoot, resolveHostPath, layerPath } from "./paths.ts";
export { inPlaceIgnorePaths, isolatedIgnorePaths, mountIgnorePaths, type InPlaceIgnoreInput } from "./ignore.ts";
export { FileLock, FileLockError } from "./flock.ts";
