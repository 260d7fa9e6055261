// Ignore lists: what a build root's layers and wipes leave alone (kiln's own directory, mounts, the kernel's
// filesystems, --ignore-path), and the predicate snapshots ask.

// mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Mount points strictly beneath `root` (a host path), as root paths, from the text of
 * /proc/self/mountinfo (passed in, so callers decide where it comes from).
 */
export function mountIgnorePaths(mountinfo: string, root: string): string[] {
  const base = root.replace(/\/+$/, "");
  const out = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    if (fields.length < 5) continue;
    const mp = unescapeMount(fields[4]);
    if (base === "" ? mp !== "/" : mp.startsWith(base + "/")) out.add(mp.slice(base.length));
  }
  return [...out].sort();
}

/**
 * Paths always left alone in-place: kaniko's list, /busybox (the debug image's shell) and /kaniko, where the
 * running executor lives even when --kaniko-dir moves the work dir elsewhere.
 */
const IN_PLACE_ALWAYS = ["/kaniko", "/proc", "/sys", "/dev", "/etc/mtab", "/busybox", "/tmp/apt-key-gpghome"];

export interface InPlaceIgnoreInput {
  /** kiln's directory (/kaniko or --kaniko-dir). */
  workDir: string;
  /** The build context directory, kept even when it is not a mount. */
  contextDir: string;
  /** Text of /proc/self/mountinfo. */
  mountinfo: string;
  /** --ignore-path. */
  extraIgnorePaths: readonly string[];
}

/** The in-place mode's keep-list over "/": never unpacked over, snapshotted or wiped. */
export function inPlaceIgnorePaths(o: InPlaceIgnoreInput): string[] {
  return [...new Set([
    ...IN_PLACE_ALWAYS, o.workDir, o.contextDir, ...mountIgnorePaths(o.mountinfo, "/"), ...o.extraIgnorePaths,
  ])].filter((p) => p !== "/");
}

/** The isolated mode's: the kernel filesystems every RUN mounts into its root, and --ignore-path. */
export function isolatedIgnorePaths(extraIgnorePaths: readonly string[]): string[] {
  return ["/proc", "/sys", "/dev", ...extraIgnorePaths];
}

/** What snapshots leave out: `paths` with everything beneath them; only what lies beneath `beneath` entries (VOLUMEs). */
export interface IgnoreSpec {
  paths: readonly string[];
  beneath: readonly string[];
}

export function isIgnored(spec: IgnoreSpec, p: string): boolean {
  return ignorePredicate(spec)(p);
}

/** isIgnored with the prefixes worked out once: a walk asks it for every path in the tree. */
export function ignorePredicate(spec: IgnoreSpec): (p: string) => boolean {
  if (spec.paths.includes("/")) return () => true;
  const exact = new Set(spec.paths);
  const under = [...spec.paths.map((x) => x + "/"), ...spec.beneath.map((x) => (x === "/" ? "/" : x + "/"))];
  return (p) => {
    if (exact.has(p)) return true;
    for (const x of under) if (p.startsWith(x)) return true;
    return false;
  };
}
