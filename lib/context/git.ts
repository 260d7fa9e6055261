// Git sources (ADD <git url>, and later git:// contexts) fetched with isomorphic-git over smart HTTP(S):
// BuildKit's form URL#REF:SUBDIR, REF a branch, a tag or a commit, SUBDIR a directory inside the repository.
import fs from "node:fs";
import { join } from "node:path";
import { ContextError } from "./context.ts";

export interface GitRef {
  /** The repository URL without the fragment. */
  url: string;
  ref?: string;
  subdir?: string;
}

/** Whether an ADD source names a git repository (BuildKit's rules: git@, git://, ssh://, or an http(s) URL ending in .git). */
export function isGitUrl(src: string): boolean {
  return /^git@[^:]+:/.test(src) || /^(git|ssh):\/\//.test(src) || /^https?:\/\/[^#]+\.git(\/)?(#.*)?$/.test(src);
}

export function parseGitUrl(src: string): GitRef {
  const hash = src.indexOf("#");
  const url = hash < 0 ? src : src.slice(0, hash);
  const frag = hash < 0 ? "" : src.slice(hash + 1);
  const colon = frag.indexOf(":");
  const ref = (colon < 0 ? frag : frag.slice(0, colon)) || undefined;
  const subdir = colon < 0 ? undefined : frag.slice(colon + 1) || undefined;
  return { url, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

/**
 * Clones `src` into `dir` (which must not exist) and returns the directory to copy from (the subdir when one is
 * named). `.git` is kept only when asked (ADD --keep-git-dir).
 */
export async function fetchGit(src: string, dir: string, opts: { keepGitDir: boolean; what: string }): Promise<string> {
  const { url, ref, subdir } = parseGitUrl(src);
  if (!/^https?:\/\//.test(url)) {
    throw new ContextError(`${opts.what}: ${url}: only http(s) git URLs are supported (kiln has no SSH agent or git:// client); use https://...`);
  }
  const isCommit = ref !== undefined && /^[0-9a-f]{40}$/i.test(ref);
  // Loaded when used: evaluating isomorphic-git at start-up cost every kiln process time (BENCHMARKS.md, issue 13).
  const [{ default: git }, { default: http }] = await Promise.all([import("isomorphic-git"), import("isomorphic-git/http/node")]);
  try {
    if (isCommit) {
      await git.clone({ fs, http, dir, url, noCheckout: true });
      await git.checkout({ fs, dir, ref: ref!, force: true });
    } else {
      await git.clone({ fs, http, dir, url, ...(ref ? { ref } : {}), singleBranch: true, depth: 1 });
    }
  } catch (e) {
    const err = e as Error & { code?: string; data?: { statusCode?: number } };
    const why = err.data?.statusCode ? `HTTP ${err.data.statusCode}` : err.message;
    throw new ContextError(`${opts.what}: fetching git repository ${url}${ref ? ` at ${ref}` : ""} failed: ${why}`);
  }
  if (!opts.keepGitDir) fs.rmSync(join(dir, ".git"), { recursive: true, force: true });
  if (!subdir) return dir;
  const sub = join(dir, ...subdir.split("/").filter((s) => s && s !== "." && s !== ".."));
  if (!fs.existsSync(sub) || !fs.statSync(sub).isDirectory()) {
    throw new ContextError(`${opts.what}: ${subdir} is not a directory in ${url}${ref ? ` at ${ref}` : ""}`);
  }
  return sub;
}
