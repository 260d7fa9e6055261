// git:// and https://....git build contexts, kaniko's syntax: git://host/repo[#REF][#COMMIT], REF a full ref name
// (refs/heads/x, refs/tags/t, refs/pull/N/head) or a commit id, COMMIT checked out after the clone.
// Like kaniko (go-git PlainClone), the clone is full and the context keeps `.git`, so `git describe` in a RUN after
// `COPY . .` works as it does under kaniko; list `.git` in .dockerignore to keep it out of COPY.
//
// Environment read (from ContextFetchOptions.env, as kaniko reads them):
//   GIT_PULL_METHOD  http or https (default https): the scheme git:// is cloned over; kiln never speaks the git protocol
//   GIT_TOKEN        sent as the basic-auth username with an empty password (wins over the two below)
//   GIT_USERNAME     basic-auth username
//   GIT_PASSWORD     basic-auth password (or token)
//   SSL_CERT_FILE    a PEM file of CAs trusted besides the built-in roots
//   SSL_CERT_DIR     ":"-separated directories of PEM files (*.pem, *.crt) trusted the same way
import fs from "node:fs";
import { join } from "node:path";
import { ContextError } from "./errors.ts";
import { cloneAt, gitFailureReason, isCommitId, loadGit, gitHttp, gitAuthHooks, type GitAccess, type IsoGit } from "./git.ts";
import type { ContextFetchOptions, GitFetcher } from "./source.ts";

/** go-git's DefaultSubmoduleRecursionDepth, which kaniko's recurse-submodules=true uses. */
const SUBMODULE_DEPTH = 10;

export interface GitContextSpec {
  /** What is cloned: http(s)://host/path without credentials or fragment. */
  url: string;
  /** The spec as messages show it: credentials left out. */
  display: string;
  ref?: string;
  commit?: string;
  /** Credentials written into the URL (git://TOKEN@host/...), used when the environment has none. */
  urlAuth?: { username: string; password: string };
}

type Env = ContextFetchOptions["env"];

const pullScheme = (env: Env) => (env.GIT_PULL_METHOD === "http" ? "http" : "https");

export function parseGitContext(spec: string, env: Env): GitContextSpec {
  const m = /^(git|https?):\/\/([^#]*)(.*)$/.exec(spec);
  if (!m || !m[2]) throw new ContextError(`--context ${spec}: not a git URL; use git://host/path[#ref][#commit]`);
  const scheme = m[1] === "git" ? pullScheme(env) : m[1];
  let u: URL;
  try {
    u = new URL(`${scheme}://${m[2]}`);
  } catch {
    throw new ContextError(`--context ${spec}: not a valid URL; use git://host/path[#ref][#commit]`);
  }
  const urlAuth = u.username || u.password ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  u.username = u.password = "";
  const [, ref, commit] = m[3].split("#");
  return {
    url: u.href, display: `${m[1]}://${u.host}${u.pathname}${m[3]}`,
    ...(ref ? { ref } : {}), ...(commit ? { commit } : {}), ...(urlAuth ? { urlAuth } : {}),
  };
}

/** kaniko's getGitAuth: GIT_TOKEN as the username with an empty password, else GIT_USERNAME/GIT_PASSWORD. */
export function gitContextAuth(env: Env, urlAuth?: GitContextSpec["urlAuth"]): { auth?: GitAccess["auth"]; hint: string } {
  if (env.GIT_TOKEN) return { auth: { username: env.GIT_TOKEN, password: "" }, hint: "from GIT_TOKEN" };
  if (env.GIT_USERNAME || env.GIT_PASSWORD) {
    return { auth: { username: env.GIT_USERNAME ?? "", password: env.GIT_PASSWORD ?? "" }, hint: "from GIT_USERNAME and GIT_PASSWORD" };
  }
  if (urlAuth) return { auth: urlAuth, hint: "from the URL" };
  return { hint: "GIT_TOKEN, or GIT_USERNAME and GIT_PASSWORD" };
}

function trustedCAs(env: Env): string[] {
  const files = [
    ...(env.SSL_CERT_DIR ?? "").split(":").filter(Boolean).flatMap((d) => {
      try {
        return fs.readdirSync(d).filter((f) => /\.(pem|crt)$/.test(f)).sort().map((f) => join(d, f));
      } catch {
        return [];
      }
    }),
    ...(env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : []),
  ];
  // Unreadable entries are skipped, as Go's system-roots loader does for kaniko.
  return files.flatMap((f) => {
    try {
      return [fs.readFileSync(f, "utf8")];
    } catch {
      return [];
    }
  });
}

export const fetchGitContext: GitFetcher = async (spec, destDir, opts) => {
  const src = parseGitContext(spec, opts.env);
  const { auth, hint } = gitContextAuth(opts.env, src.urlAuth);
  const access: GitAccess = {
    ...(auth ? { auth } : {}), insecureSkipTLS: !!opts.git.insecureSkipTLS, extraCAs: trustedCAs(opts.env), maxBytes: opts.maxBytes,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const branch = opts.git.branch ? ` (--git branch=${opts.git.branch})` : "";
  const git = await loadGit();
  let step = "cloning";
  try {
    let ref: string | undefined = isCommitId(src.ref) ? undefined : src.ref;
    const commit = src.commit ?? (isCommitId(src.ref) ? src.ref : undefined);
    if (opts.git.branch) {
      step = "listing refs of";
      ref = await branchRef(git, src.url, opts.git.branch, access);
    }
    step = "cloning";
    await cloneAt(git, destDir, src.url, { ref, commit, singleBranch: opts.git.singleBranch }, access);
    if (opts.git.recurseSubmodules) {
      step = "cloning submodules of";
      await updateSubmodules(git, destDir, src.url, opts.env, access, SUBMODULE_DEPTH);
    }
  } catch (e) {
    fs.rmSync(destDir, { recursive: true, force: true });
    if (e instanceof ContextError) throw new ContextError(`--context ${src.display}${branch}: ${e.message}`);
    throw new ContextError(`--context ${src.display}${branch}: ${step} the repository failed: ${gitFailureReason(e, access, hint)}`);
  }
  return destDir;
};

/** kaniko's getGitReferenceName: --git branch=X names refs/heads/X, else refs/tags/X. */
async function branchRef(git: IsoGit, url: string, branch: string, access: GitAccess): Promise<string> {
  const refs = await git.listServerRefs({ http: gitHttp(access), url, ...gitAuthHooks(access) });
  for (const name of [`refs/heads/${branch}`, `refs/tags/${branch}`]) if (refs.some((r) => r.ref === name)) return name;
  throw new ContextError(`no branch or tag named ${branch} in the repository`);
}

interface Submodule { name: string; path: string; url: string }

/** The [submodule "..."] sections of a .gitmodules file (git-config syntax, the keys git submodule uses). */
export function parseGitmodules(text: string): Submodule[] {
  const out: Submodule[] = [];
  let cur: Partial<Submodule> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const sec = /^\[submodule\s+"(.*)"\]$/.exec(line);
    if (sec) {
      cur = { name: sec[1] };
      out.push(cur as Submodule);
    } else if (/^\[/.test(line)) {
      cur = undefined;
    } else if (cur) {
      const kv = /^(\w+)\s*=\s*(.*)$/.exec(line);
      if (kv && (kv[1] === "path" || kv[1] === "url")) cur[kv[1]] = kv[2].replace(/^"(.*)"$/, "$1");
    }
  }
  return out.filter((s) => s.path && s.url);
}

/** A submodule URL as git resolves it: ./ and ../ against the parent's URL, git:// over GIT_PULL_METHOD. */
export function submoduleUrl(parentUrl: string, url: string, env: Env): string {
  if (/^\.\.?\//.test(url)) return new URL(url, parentUrl.replace(/\/*$/, "/")).href;
  if (url.startsWith("git://")) return `${pullScheme(env)}://${url.slice(6)}`;
  return url;
}

/** The submodule's directory, refusing paths that leave the repository or pass through a symlink. */
function submoduleDir(repoDir: string, path: string): string {
  const parts = path.split("/").filter((p) => p && p !== ".");
  if (!parts.length || parts.includes("..") || path.startsWith("/")) throw new ContextError(`submodule path ${path} leaves the repository`);
  let dir = repoDir;
  for (const p of parts) {
    dir = join(dir, p);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new ContextError(`submodule path ${path} is not a directory in the repository`);
  }
  return dir;
}

/**
 * isomorphic-git has no submodules: read .gitmodules, clone each one at the commit its gitlink records, recurse.
 * Each submodule keeps its own .git directory (the old layout git still understands).
 */
async function updateSubmodules(git: IsoGit, dir: string, url: string, env: Env, access: GitAccess, depth: number): Promise<void> {
  const file = join(dir, ".gitmodules");
  if (depth === 0 || !fs.existsSync(file)) return;
  const head = await git.resolveRef({ fs, dir, ref: "HEAD" });
  for (const sub of parseGitmodules(fs.readFileSync(file, "utf8"))) {
    const oid = await gitlink(git, dir, head, sub.path);
    if (!oid) continue; // listed in .gitmodules but not in the tree: git skips it too
    const subDir = submoduleDir(dir, sub.path);
    const subUrl = submoduleUrl(url, sub.url, env);
    try {
      await cloneAt(git, subDir, subUrl, { commit: oid }, access);
    } catch (e) {
      if (e instanceof ContextError) throw e;
      const why = gitFailureReason(e, access, "GIT_TOKEN, or GIT_USERNAME and GIT_PASSWORD");
      throw new ContextError(`cloning submodule ${sub.path} from ${subUrl} at ${oid} failed: ${why}`);
    }
    await updateSubmodules(git, subDir, subUrl, env, access, depth - 1);
  }
}

/** The commit a gitlink at `path` in commit `head` records, if there is one. */
async function gitlink(git: IsoGit, dir: string, head: string, path: string): Promise<string | undefined> {
  const clean = path.split("/").filter((p) => p && p !== ".");
  const name = clean.pop()!;
  try {
    const { tree } = await git.readTree({ fs, dir, oid: head, ...(clean.length ? { filepath: clean.join("/") } : {}) });
    return tree.find((e) => e.path === name && e.type === "commit")?.oid;
  } catch {
    return undefined;
  }
}
