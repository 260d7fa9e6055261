// gs://bucket[/object] build contexts (kaniko's gcs.go): the object (default "context.tar.gz") is streamed through the
// GCS JSON API (GET /storage/v1/b/B/o/O?alt=media) with an OAuth2 token from Application Default Credentials
// (google-auth-library, imported on first use only). One authenticated GET does not need @google-cloud/storage.
//
// Environment read (from opts.env):
//   GOOGLE_APPLICATION_CREDENTIALS   a service-account (or ADC) JSON key file; its token_uri is honoured
//   STORAGE_EMULATOR_HOST            the endpoint instead of https://storage.googleapis.com ("host:port" means
//                                    http://host:port), the variable Google's storage SDKs honour; with it, a
//                                    request goes out without a token when no credentials are found
// Without a key file the library looks on its own (it takes no such inputs, it reads process.env):
// gcloud's application_default_credentials.json (CLOUDSDK_CONFIG), then the metadata server (Workload Identity;
// GCE_METADATA_HOST, METADATA_SERVER_DETECTION). The CLI passes process.env as opts.env, so both views agree.
import { readFileSync } from "node:fs";
import { ContextError } from "./errors.ts";
import type { ArchiveFetcher } from "./source.ts";

const SCOPE = "https://www.googleapis.com/auth/devstorage.read_only";
/** Where google-auth-library posts JWT grants, whatever the key's token_uri says (Google's Go library honours it). */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

export function parseGcsSpec(spec: string): { bucket: string; object: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!m) throw new ContextError(`--context ${spec}: expected gs://BUCKET/PATH.tar.gz`);
  return { bucket: m[1], object: m[2] || "context.tar.gz" };
}

export function gcsBase(env: Readonly<Record<string, string | undefined>>): string {
  const host = env.STORAGE_EMULATOR_HOST;
  if (!host) return "https://storage.googleapis.com";
  return (/^https?:\/\//.test(host) ? host : `http://${host}`).replace(/\/+$/, "");
}

/** The access token, or undefined when there are no credentials and none are needed (an emulator). */
async function accessToken(spec: string, keyFile: string | undefined, emulated: boolean, signal?: AbortSignal): Promise<string | undefined> {
  let tokenUri: string | undefined;
  if (keyFile) {
    try {
      const uri = JSON.parse(readFileSync(keyFile, "utf8")).token_uri;
      if (typeof uri === "string" && uri !== GOOGLE_TOKEN_URL) tokenUri = uri;
    } catch (e) {
      throw new ContextError(`--context ${spec}: GOOGLE_APPLICATION_CREDENTIALS ${keyFile}: ${(e as Error).message.split("\n")[0]}; point it at a readable service-account JSON key`);
    }
  }
  const fetchImplementation = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return fetch(tokenUri && url === GOOGLE_TOKEN_URL ? tokenUri : url, { ...init, ...(signal ? { signal } : {}) });
  };
  const { GoogleAuth } = await import("google-auth-library");
  const auth = new GoogleAuth({ keyFilename: keyFile, scopes: [SCOPE], clientOptions: { transporterOptions: { fetchImplementation } as never } });
  try {
    const token = await auth.getAccessToken();
    if (!token) throw new Error("no access token in the answer");
    return token;
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    if (emulated && !keyFile && /could not load the default credentials/i.test(msg)) return undefined;
    const where = keyFile ? `key file ${keyFile}` : "Application Default Credentials";
    throw new ContextError(`--context ${spec}: no Google access token from ${where}: ${msg}; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key, or check the workload's service account`);
  }
}

async function explain(res: Response, bucket: string, object: string): Promise<string> {
  let why = "";
  try {
    why = (await res.json() as { error?: { message?: string } }).error?.message ?? "";
  } catch { /* not JSON */ }
  if (res.status === 404) {
    return /bucket/i.test(why) ? `bucket "${bucket}" does not exist` : `no object "${object}" in bucket "${bucket}"`;
  }
  if (res.status === 401) return `the Google credentials were refused (401${why ? `: ${why}` : ""}); check GOOGLE_APPLICATION_CREDENTIALS`;
  if (res.status === 403) return `access denied (403${why ? `: ${why}` : ""}): the account needs storage.objects.get on gs://${bucket}/${object}`;
  return `HTTP ${res.status}${why ? `: ${why}` : ""}`;
}

export const fetchGcs: ArchiveFetcher = async (spec, opts) => {
  const { bucket, object } = parseGcsSpec(spec);
  const base = gcsBase(opts.env);
  const token = await accessToken(spec, opts.env.GOOGLE_APPLICATION_CREDENTIALS || undefined, !!opts.env.STORAGE_EMULATOR_HOST, opts.signal);
  const url = `${base}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}?alt=media`;
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: opts.signal });
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).message;
    throw new ContextError(`--context ${spec}: cannot reach ${base} (${code}): check the network${opts.env.STORAGE_EMULATOR_HOST ? " and STORAGE_EMULATOR_HOST" : ""}`);
  }
  if (!res.ok || !res.body) throw new ContextError(`--context ${spec}: ${await explain(res, bucket, object)}`);
  return { stream: res.body, describe: spec };
};
