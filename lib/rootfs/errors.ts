// Typed errors of the rootfs folder.

/** A layer could not be applied to a build root (hostile or broken entry, filesystem failure). */
export class LayerApplyError extends Error {
  override name = "LayerApplyError";
  constructor(entry: string, problem: string, cause?: unknown) {
    super(`applying layer entry "${entry}": ${problem}`, { cause });
  }
}

/** A USER spec names a user or group that the root's /etc/passwd or /etc/group does not have. */
export class UserLookupError extends Error {
  override name = "UserLookupError";
  constructor(spec: string, problem: string) {
    super(`user "${spec}": ${problem}; use a numeric id or add the entry to the image first`);
  }
}
