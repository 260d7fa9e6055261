// Git over smart HTTP(S) with isomorphic-git, shared by ADD <git url> (BuildKit's URL#REF:SUBDIR, below) and the
// git:// build context (git-context.ts): the HTTP client (auth, TLS trust, kaniko's insecure-skip-tls), clone +
// checkout of one ref or commit, and the one wording of why a fetch failed.
import fs from "node:fs";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { formatBytes } from "../log/mod.ts";
import { ContextError } from "./errors.ts";

export interface GitRef {
  /** The repository URL without the fragment. */
  url: string;
  ref?: string;
  subdir?: string;
}

/** How to reach a repository: credentials, TLS trust, cancellation. */
export interface GitAccess {
  auth?: { username: string; password: string };
  /** Accept any server certificate (kaniko's --git insecure-skip-tls=true). */
  insecureSkipTLS?: boolean;
  /** PEM certificates trusted besides the built-in roots. */
  extraCAs?: string[];
  /** The most bytes the server may send (packs included); past it the fetch fails naming --context-size-limit. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export type IsoGit = typeof import("isomorphic-git");
type HttpClient = import("isomorphic-git").HttpClient;

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

export const isCommitId = (ref: string | undefined): ref is string => ref !== undefined && /^[0-9a-f]{40}$/i.test(ref);

/** isomorphic-git, loaded when used: evaluating it at start-up cost every kiln process time (BENCHMARKS.md, issue 13). */
export async function loadGit(): Promise<IsoGit> {
  return (await import("isomorphic-git")).default as unknown as IsoGit;
}

/**
 * isomorphic-git's HTTP plugin over fetch, so TLS trust is ours to set: Bun's fetch takes `tls` per request
 * (isomorphic-git's node client would need an agent per call and knows nothing of insecure-skip-tls).
 */
export function gitHttp(access: GitAccess): HttpClient {
  const tls = access.insecureSkipTLS
    ? { rejectUnauthorized: false }
    // Setting `ca` replaces the default trust store, so the built-in roots go first.
    : access.extraCAs?.length ? { ca: [...rootCertificates, ...access.extraCAs].join("\n") } : undefined;
  let received = 0;
  const max = access.maxBytes ?? Infinity;
  async function* counted(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream) {
      received += chunk.length;
      if (received > max) throw new ContextError(`the repository is larger than the limit of ${formatBytes(max)}; raise it with --context-size-limit`);
      yield chunk;
    }
  }
  return {
    async request({ url, method = "GET", headers = {}, body }) {
      const chunks: Uint8Array[] = [];
      if (body) for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(c);
      const res = await fetch(url, {
        method, headers, redirect: "follow", signal: access.signal,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        ...(tls ? { tls } : {}),
      } as RequestInit);
      const headersOut: Record<string, string> = {};
      res.headers.forEach((v, k) => (headersOut[k] = v));
      const stream = res.body ?? new Response(new Uint8Array(0)).body!;
      return {
        url: res.url, method, statusCode: res.status, statusMessage: res.statusText, headers: headersOut,
        body: counted(stream),
      };
    },
  };
}

/** isomorphic-git's auth hooks for `access`: credentials once, and no retry loop when the server refuses them. */
export function gitAuthHooks(access: GitAccess) {
  return access.auth ? { onAuth: () => access.auth!, onAuthFailure: () => ({ cancel: true }) } : {};
}

/** Why a git fetch failed, in words that say what to change. `authHint` names where credentials come from. */
export function gitFailureReason(e: unknown, access: GitAccess, authHint: string): string {
  if (e instanceof ContextError) return e.message;
  const err = e as Error & { code?: string; data?: { statusCode?: number; statusMessage?: string } };
  const status = err.data?.statusCode;
  if (status === 401 || err.code === "UserCanceledError") {
    return access.auth ? `HTTP 401: the server refused the credentials (${authHint})` : `HTTP 401: the repository needs credentials: set ${authHint}`;
  }
  if (status === 403) return `HTTP 403: access denied${access.auth ? "" : ` (set ${authHint})`}`;
  if (status) return `HTTP ${status}${err.data?.statusMessage ? ` ${err.data.statusMessage}` : ""}`;
  const code = err.code ?? "";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/i.test(code)) {
    return `TLS: the server's certificate is not trusted (${code}): add its CA to SSL_CERT_FILE or SSL_CERT_DIR, or set --git insecure-skip-tls=true`;
  }
  if (/ConnectionRefused|ECONNREFUSED|ENOTFOUND|FailedToOpenSocket|ConnectionClosed|ECONNRESET|Timeout/i.test(code)) {
    return `cannot reach the server (${code})`;
  }
  const what = (err.data as { what?: string; ref?: string } | undefined);
  if (err.code === "NotFoundError" && what?.what) return `${what.what} does not exist in the repository`;
  if (err.code === "CommitNotFetchedError") return `commit ${what?.ref ?? ""} does not exist in the repository (or no branch or tag reaches it)`;
  return err.message;
}

export interface CloneTarget {
  /** A branch, a tag or a full ref name (refs/heads/x, refs/tags/t, refs/pull/1/head); the remote's HEAD without it. */
  ref?: string;
  /** A commit id to check out after the clone (detached HEAD). */
  commit?: string;
  singleBranch?: boolean;
  /** Only the ref's last commit (ADD); kaniko's contexts clone the full history. */
  shallow?: boolean;
}

/** Clones `url` into `dir` (which must not exist or be empty) and checks out what `target` names. */
export async function cloneAt(git: IsoGit, dir: string, url: string, target: CloneTarget, access: GitAccess): Promise<void> {
  const { ref, commit } = target;
  await git.clone({
    fs, http: gitHttp(access), dir, url, ...gitAuthHooks(access),
    ...(ref ? { ref } : {}),
    singleBranch: !!target.singleBranch,
    noCheckout: !!commit,
    ...(target.shallow && !commit ? { depth: 1 } : {}),
  });
  if (commit) await git.checkout({ fs, dir, ref: commit, force: true });
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
  const git = await loadGit();
  try {
    await cloneAt(git, dir, url, isCommitId(ref) ? { commit: ref } : { ref, singleBranch: true, shallow: true }, {});
  } catch (e) {
    throw new ContextError(`${opts.what}: fetching git repository ${url}${ref ? ` at ${ref}` : ""} failed: ${gitFailureReason(e, {}, "credentials in the URL")}`);
  }
  if (!opts.keepGitDir) fs.rmSync(join(dir, ".git"), { recursive: true, force: true });
  if (!subdir) return dir;
  const sub = join(dir, ...subdir.split("/").filter((s) => s && s !== "." && s !== ".."));
  if (!fs.existsSync(sub) || !fs.statSync(sub).isDirectory()) {
    throw new ContextError(`${opts.what}: ${subdir} is not a directory in ${url}${ref ? ` at ${ref}` : ""}`);
  }
  return sub;
}
