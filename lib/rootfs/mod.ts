// Public face of lib/rootfs: everything that touches a build root.
export { RootFS, type RootFSOptions, type SnapshotOptions, type ApplyLayerOptions } from "./rootfs.ts";
export type { SnapshotMode } from "./index.ts";
export { XattrError, getXattrs, setXattr } from "./xattr.ts";
// ADD unpacks local archives into the root with the same tar reader layers use (PAX, GNU, sparse, binary xattrs).
export { readLayer as readTarEntries, type ReadEntry as TarReadEntry } from "../layer/mod.ts";
export { resolveUser, type ResolvedUser } from "./user.ts";
export { LayerApplyError, LayerDigestError, UserLookupError } from "./errors.ts";
export { resolveInRoot, layerPath } from "./paths.ts";
export { mountIgnorePaths } from "./ignore.ts";
export { FileLock, FileLockError } from "./flock.ts";
