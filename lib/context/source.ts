// The seam between the context dispatcher (context.ts) and the remote sources, one file each.
// Sources get the caller's environment as a value: nothing in lib/ reads process.env.

export interface GitContextOptions {
  /** kaniko's --git branch=NAME */
  branch?: string;
  /** kaniko's --git single-branch=true|false */
  singleBranch?: boolean;
  /** kaniko's --git recurse-submodules=true|false */
  recurseSubmodules?: boolean;
  /** kaniko's --git insecure-skip-tls=true|false */
  insecureSkipTLS?: boolean;
}

export interface ContextFetchOptions {
  /** The environment the sources read (S3_ENDPOINT, AWS_*, GOOGLE_*, AZURE_*, GIT_TOKEN, ...). */
  env: Readonly<Record<string, string | undefined>>;
  git: GitContextOptions;
  /** The most bytes a remote context may unpack to; past it the fetch fails naming the limit and its flag. */
  maxBytes: number;
  /** PEM files trusted besides the built-in roots (the build's SSL_CERT_FILE, SSL_CERT_DIR, <kaniko dir>/ssl/certs). */
  caFiles?: string[];
  signal?: AbortSignal;
}

/** A context that arrives as a tar stream, gzip'd or not (the dispatcher sniffs and unpacks it). */
export interface ArchiveSource {
  stream: ReadableStream<Uint8Array>;
  /** The source as messages name it, e.g. "s3://bucket/ctx.tar.gz". */
  describe: string;
}

/** s3://, gs://, https://<account>.blob.core.windows.net/..., https://.../x.tar.gz, tar://... */
export type ArchiveFetcher = (spec: string, opts: ContextFetchOptions) => Promise<ArchiveSource>;

/** git://... and https://....git: clones into destDir (which does not exist yet) and returns the context directory. */
export type GitFetcher = (spec: string, destDir: string, opts: ContextFetchOptions) => Promise<string>;
