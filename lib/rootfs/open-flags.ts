// open(2) flags for the libc calls made through FFI. Their values differ between architectures:
// O_DIRECTORY is 0o200000 on x86_64 but 0o40000 on arm64, where 0o200000 is O_DIRECT (which a
// directory refuses), and O_NOFOLLOW is 0o400000 against 0o100000. Constants written for x86_64
// made every directory open fail on arm64, and the snapshot walk then saw an empty root. The
// runtime's own table is built for the architecture the binary runs on.
import { constants } from "node:fs";

export const O_DIRECTORY: number = constants.O_DIRECTORY;
export const O_NOFOLLOW: number = constants.O_NOFOLLOW;
/** 0 where the platform has none. */
export const O_NOATIME: number = constants.O_NOATIME ?? 0;
// Not in node's table; the asm-generic value, which x86_64 and arm64 share.
export const O_CLOEXEC = 0o2000000;
