// A build context is a local directory plus its .dockerignore rules. openContext picks the source by the
// spec's scheme (kaniko's syntax); everything fetched is unpacked or cloned into the build's own work directory,
// which the build removes when it ends (and a later build reaps when it was killed), and which no snapshot sees.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve, isAbsolute } from "node:path";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";
import { ContextError } from "./errors.ts";
import type { ArchiveSource, ContextFetchOptions } from "./source.ts";
import { unpackContext, DEFAULT_CONTEXT_SIZE_LIMIT } from "./unpack.ts";
import { fetchTarFile } from "./tar.ts";
import { fetchStdin, type ContextStdin } from "./stdin.ts";
import { fetchHttpsTarball } from "./https.ts";
import { fetchS3 } from "./s3.ts";
import { fetchGcs } from "./gs.ts";
import { fetchAzureBlob } from "./azblob.ts";
import { fetchGitContext } from "./git-context.ts";

export { ContextError };

export interface BuildContext {
  /** Absolute path of the local directory holding the context. */
  dir: string;
  ignore: IgnoreMatcher;
  /** Removes what fetching the context created (nothing for a local directory). */
  cleanup(): Promise<void>;
}

export interface OpenContextOptions {
  /** Path of the Dockerfile in use: `<Dockerfile>.dockerignore` beside it wins over the context's `.dockerignore`. */
  dockerfilePath?: string;
  contextSubPath?: string;
  /** A directory the build owns: fetched contexts go to `<workDir>/context`. Needed by every source but a local directory. */
  workDir?: string;
  /** What remote sources read: the caller's environment, --git, the size limit. */
  fetch?: Partial<ContextFetchOptions>;
  /** For tar://stdin. */
  stdin?: ContextStdin;
}

export type ContextKind =
  | { kind: "dir"; path: string }
  | { kind: "tar"; path: string }
  | { kind: "stdin" }
  | { kind: "s3" | "gs" | "azblob" | "git" | "https" };

// kaniko's ValidAzureBlobStorageHost: the public cloud's and the sovereign clouds' blob hosts.
const AZURE_BLOB_HOST = /^[a-z0-9]+\.blob\.core\.(windows\.net|chinacloudapi\.cn|cloudapi\.de|usgovcloudapi\.net)$/i;

/** Which source a --context value names (kaniko's prefixes; no prefix: a local directory). */
export function contextKind(spec: string): ContextKind {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/s.exec(spec);
  if (!m) return { kind: "dir", path: spec };
  const [, scheme, rest] = m;
  switch (scheme.toLowerCase()) {
    case "dir": return { kind: "dir", path: rest };
    case "tar": return rest === "stdin" ? { kind: "stdin" } : { kind: "tar", path: rest };
    case "s3": return { kind: "s3" };
    case "gs": return { kind: "gs" };
    case "git": return { kind: "git" };
    case "http":
    case "https": {
      let host = "";
      try { host = new URL(spec).hostname; } catch { throw new ContextError(`--context ${spec}: not a valid URL`); }
      if (AZURE_BLOB_HOST.test(host)) return { kind: "azblob" };
      // A repository URL as git and `docker build` take it: the path ends in .git, with #ref[#commit] after.
      if (/^[^#]+\.git\/?(#.*)?$/.test(rest)) return { kind: "git" };
      return { kind: "https" };
    }
  }
  throw new ContextError(`--context ${spec}: unknown source "${scheme}://"; use a path, dir://, tar://, tar://stdin, s3://, gs://, git://, or an https:// URL (a .tar.gz, a .git repository, or Azure Blob Storage)`);
}

const ARCHIVES: Partial<Record<ContextKind["kind"], (spec: string, opts: ContextFetchOptions) => Promise<ArchiveSource>>> = {
  s3: fetchS3, gs: fetchGcs, azblob: fetchAzureBlob, https: fetchHttpsTarball,
};

export async function openContext(spec: string, opts: OpenContextOptions = {}): Promise<BuildContext> {
  const kind = contextKind(spec);
  if (kind.kind === "dir") {
    const root = resolve(kind.path);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new ContextError(`--context ${spec}: ${root} is not a directory`);
    const dir = subPath(spec, root, opts.contextSubPath);
    return { dir, ignore: loadIgnore(dir, opts.dockerfilePath), cleanup: async () => {} };
  }
  if (!opts.workDir) throw new ContextError(`--context ${spec}: fetching a context needs a work directory`);
  const fetch: ContextFetchOptions = { env: {}, git: {}, maxBytes: DEFAULT_CONTEXT_SIZE_LIMIT, ...opts.fetch };
  const dest = join(opts.workDir, "context");
  const cleanup = async () => rmSync(dest, { recursive: true, force: true });
  try {
    let root = dest;
    if (kind.kind === "git") {
      root = await fetchGitContext(spec, dest, fetch);
    } else {
      const src = kind.kind === "tar" ? await fetchTarFile(spec, resolve(kind.path))
        : kind.kind === "stdin" ? await fetchStdin(spec, opts.stdin)
        : await ARCHIVES[kind.kind]!(spec, fetch);
      mkdirSync(dest, { recursive: true });
      await unpackContext(src, dest, { maxBytes: fetch.maxBytes });
    }
    const dir = subPath(spec, root, opts.contextSubPath);
    return { dir, ignore: loadIgnore(dir, opts.dockerfilePath), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** --context-sub-path, which must name a directory inside the context. */
function subPath(spec: string, root: string, sub: string | undefined): string {
  if (!sub) return root;
  const dir = resolve(root, sub.replace(/^\/+/, ""));
  const rel = relative(root, dir);
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) throw new ContextError(`--context-sub-path ${sub}: leads out of the context ${spec}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ContextError(`--context-sub-path ${sub}: no such directory in the context ${spec}`);
  return dir;
}

/** The context with the ignore rules that go with the Dockerfile found in it (opened once, before it was known). */
export function forDockerfile(ctx: BuildContext, dockerfilePath: string): BuildContext {
  return { ...ctx, ignore: loadIgnore(ctx.dir, dockerfilePath) };
}

function loadIgnore(dir: string, dockerfilePath?: string): IgnoreMatcher {
  const candidates = [dockerfilePath ? `${dockerfilePath}.dockerignore` : undefined, join(dir, ".dockerignore")];
  for (const c of candidates) {
    if (c && existsSync(c)) return new IgnoreMatcher(parseDockerignore(readFileSync(c, "utf8")));
  }
  return new IgnoreMatcher([]);
}
