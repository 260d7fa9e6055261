// COPY/ADD source resolution against a source root (the context, or another stage's root for --from).
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { IgnoreMatcher } from "./dockerignore.ts";
import { ContextError } from "./context.ts";
import { globSource } from "./glob.ts";

export interface ResolvedSource {
  /** Absolute host path. */
  abs: string;
  /** Slash-separated path relative to the source root ("" for the root itself). */
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

function segmentRegExp(seg: string): RegExp {
  return new RegExp(`^${globSource(seg)}$`);
}

/**
 * Resolves one source as written in the Dockerfile (already expanded). Wildcards follow Go's filepath.Match per
 * path element. Ignored paths (per .dockerignore) are not sources. `what` names the instruction for messages.
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
      try { names = readdirSync(join(root, base)); } catch { /* not a dir: no match */ }
      for (const n of names.sort()) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    matches = next;
  }
  const out: ResolvedSource[] = [];
  for (const m of matches) {
    if (m && ignore?.ignores(m)) continue;
    let st;
    try { st = lstatSync(join(root, m)); } catch { continue; }
    out.push({ abs: join(root, m), rel: m, isDir: st.isDirectory() });
  }
  if (out.length === 0 && !WILDCARD.test(rel)) {
    throw new ContextError(`${what}: source "${src}" not found in the build context (or excluded by .dockerignore)`);
  }
  return out;
}
