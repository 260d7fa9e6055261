// Typed errors of the rootfs folder.

/** A layer could not be applied to a build root (hostile or broken entry, filesystem failure). */
export class LayerApplyError extends Error {
  override name = "LayerApplyError";
  constructor(entry: string, readonly problem: string, cause?: unknown) {
    super(`applying layer entry "${entry}": ${problem}`, { cause });
  }
}

/** An entry of an archive ADD unpacks that cannot be unpacked; `entry` is its name in the archive. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
  /** `entry` undefined: the archive as a whole (cut off, not a valid tar). */
  constructor(readonly entry: string | undefined, problem: string, cause?: unknown) {
    super(entry === undefined ? problem : `entry "${entry}": ${problem}`, { cause });
  }
}

/** A layer's bytes, as they arrived, are not the blob its digest names. */
export class LayerDigestError extends Error {
  override name = "LayerDigestError";
  constructor(expected: { digest: string; size: number }, got: { digest: string; size: number }) {
    super(`layer ${expected.digest}: the content read has digest ${got.digest} (${got.size} bytes, expected ${expected.size}); ` +
      "the registry or a proxy altered it: pull again, or check the registry's storage");
  }
}

/** A USER spec names a user or group that the root's /etc/passwd or /etc/group does not have. */
export class UserLookupError extends Error {
  override name = "UserLookupError";
  constructor(spec: string, problem: string) {
    super(`user "${spec}": ${problem}; use a numeric id or add the entry to the image first`);
  }
}

/** A build root's files could not be moved or copied out to the directory that keeps them for a later stage. */
export class RootMoveError extends Error {
  override name = "RootMoveError";
  constructor(path: string, dest: string, problem: string) {
    super(`keeping ${path} of the build root in ${dest} for a later COPY --from: ${problem}; check the space and permissions of kiln's work directory`);
  }
}
