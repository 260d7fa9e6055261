// COPY/ADD source resolution against a source root (the context, or another stage's root for --from).
import { lstatSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { IgnoreMatcher } from "./dockerignore.ts";
import { ContextError } from "./context.ts";
import { globSource } from "./glob.ts";
import { resolveInRoot } from "../rootfs/mod.ts";

export interface ResolvedSource {
  /** Absolute host path of what is copied: a symlink named as the source is followed (inside the root). */
  abs: string;
  /** Slash-separated path relative to the source root as matched ("" for the root itself); a symlink's own name. */
  rel: string;
  isDir: boolean;
}

const WILDCARD = /[*?[]/;

function clean(rel: string): string {
  const parts: string[] = [];
  for (const seg of rel.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") { parts.pop(); continue; } // sources can never climb out of the root
    parts.push(seg);
  }
  return parts.join("/");
}

/**
 * `rel` with every symlink in it followed, the last component included, as BuildKit's COPY follows a source
 * (continuity's RootPath): inside `root`, an absolute target starts again at the root and ".." stops there (the
 * one in-root resolver, lib/rootfs's). A Kubernetes ConfigMap volume is made of such links (`app.conf ->
 * ..data/app.conf`, `..data -> ..2024_...`). Undefined when the path does not exist (a dangling link included).
 */
function followInRoot(root: string, rel: string): string | undefined {
  let resolved: string;
  try {
    resolved = resolveInRoot(root, rel, true);
  } catch {
    return undefined; // too many levels of links
  }
  try {
    lstatSync(join(root, resolved));
  } catch {
    return undefined;
  }
  return resolved.slice(1);
}

function segmentRegExp(seg: string): RegExp {
  return new RegExp(`^${globSource(seg)}$`);
}

/**
 * Resolves one source as written in the Dockerfile (already expanded). Wildcards follow Go's filepath.Match per
 * path element. Ignored paths (per .dockerignore) are not sources. A source that is a symlink stands for what it
 * points to (symlinks inside a directory source stay symlinks: copy-files.ts). `what` names the instruction for
 * messages.
 */
export function resolveSource(root: string, src: string, ignore: IgnoreMatcher | undefined, what: string): ResolvedSource[] {
  const rel = clean(src);
  const segs = rel === "" ? [] : rel.split("/");
  let matches: string[] = [""];
  for (const seg of segs) {
    const next: string[] = [];
    for (const base of matches) {
      if (!WILDCARD.test(seg)) {
        next.push(base ? `${base}/${seg}` : seg);
        continue;
      }
      const re = segmentRegExp(seg);
      let names: string[] = [];
      const dir = followInRoot(root, base);
      try { if (dir !== undefined) names = readdirSync(join(root, dir)); } catch { /* not a dir: no match */ }
      for (const n of names.sort()) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    matches = next;
  }
  const out: ResolvedSource[] = [];
  for (const m of matches) {
    if (m && ignore?.ignores(m)) continue;
    const target = followInRoot(root, m);
    if (target === undefined) continue;
    let st;
    try { st = statSync(join(root, target)); } catch { continue; }
    // A link into what .dockerignore leaves out of the context finds nothing there, as with BuildKit.
    if (target !== m && !st.isDirectory() && ignore?.ignores(target)) continue;
    out.push({ abs: join(root, target), rel: m, isDir: st.isDirectory() });
  }
  if (out.length === 0 && !WILDCARD.test(rel)) {
    throw new ContextError(`${what}: source "${src}" not found in the build context (or excluded by .dockerignore)`);
  }
  return out;
}
