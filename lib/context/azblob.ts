// Azure Blob build contexts (kaniko's azureblob.go): https://<account>.blob.core.windows.net/<container>/<blob>
// (also .chinacloudapi.cn, .cloudapi.de, .usgovcloudapi.net), streamed through @azure/storage-blob (imported on
// first use only) with a shared key.
//
// Environment read (from opts.env):
//   AZURE_STORAGE_ACCESS_KEY         the account's key (kaniko's only input)
//   AZURE_STORAGE_CONNECTION_STRING  the connection-string form: AccountName, AccountKey, SharedAccessSignature,
//                                    DefaultEndpointsProtocol, EndpointSuffix and BlobEndpoint. Its BlobEndpoint
//                                    maps the URL's account to another endpoint (Azurite, a private endpoint): the
//                                    blob is read from BlobEndpoint/<container>/<blob>. A key in the connection
//                                    string wins over AZURE_STORAGE_ACCESS_KEY; a connection string of only a
//                                    BlobEndpoint takes its key from AZURE_STORAGE_ACCESS_KEY.
// A URL carrying a SAS (?...&sig=...) needs neither.
import { Readable } from "node:stream";
import { ContextError } from "./errors.ts";
import type { ArchiveFetcher } from "./source.ts";

// The dispatcher (context.ts) routes these hosts here; the account is the host's first label.
const HOST = /^([a-z0-9]+)\.blob\.core\.(windows\.net|chinacloudapi\.cn|cloudapi\.de|usgovcloudapi\.net)$/;

export interface AzureBlobSpec { account: string; /** e.g. blob.core.windows.net */ suffix: string; container: string; blob: string; sas: string }

export function parseAzureBlobSpec(spec: string): AzureBlobSpec {
  let u: URL | undefined;
  try { u = new URL(spec); } catch { /* reported below */ }
  const host = u && HOST.exec(u.hostname);
  const m = u && /^\/([^/]+)\/(.+)$/.exec(u.pathname);
  if (!u || !host || !m) throw new ContextError(`--context ${spec}: expected https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB.tar.gz`);
  return { account: host[1], suffix: `blob.core.${host[2]}`, container: decodeURIComponent(m[1]), blob: decodeURIComponent(m[2]), sas: u.search.slice(1) };
}

export function parseConnectionString(cs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of cs.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

interface Target { url: string; endpoint: string; key?: string }

/** Where the blob is read from and with which key, from the URL and the environment. */
export function azureTarget(spec: string, p: AzureBlobSpec, env: Readonly<Record<string, string | undefined>>): Target {
  const cs = env.AZURE_STORAGE_CONNECTION_STRING ? parseConnectionString(env.AZURE_STORAGE_CONNECTION_STRING) : {};
  if (cs.AccountName && cs.AccountName !== p.account) {
    throw new ContextError(`--context ${spec}: AZURE_STORAGE_CONNECTION_STRING is for account "${cs.AccountName}", not "${p.account}"; use the matching connection string`);
  }
  const suffix = cs.EndpointSuffix ? `blob.${cs.EndpointSuffix}` : p.suffix;
  const endpoint = (cs.BlobEndpoint ?? `${cs.DefaultEndpointsProtocol ?? "https"}://${p.account}.${suffix}`).replace(/\/+$/, "");
  const sas = p.sas || cs.SharedAccessSignature || "";
  const path = `${encodeURIComponent(p.container)}/${p.blob.split("/").map(encodeURIComponent).join("/")}`;
  const key = cs.AccountKey ?? env.AZURE_STORAGE_ACCESS_KEY;
  if (!key && !sas) {
    throw new ContextError(`--context ${spec}: no credentials for storage account "${p.account}"; set AZURE_STORAGE_ACCESS_KEY (or AZURE_STORAGE_CONNECTION_STRING, or use a SAS URL)`);
  }
  return { url: `${endpoint}/${path}${sas ? `?${sas.replace(/^\?/, "")}` : ""}`, endpoint, key: sas ? undefined : key };
}

function explain(err: unknown, p: AzureBlobSpec, endpoint: string): string {
  const e = err as { statusCode?: number; code?: string; message?: string; details?: { errorCode?: string } };
  const code = e.details?.errorCode ?? e.code ?? "";
  if (code === "ContainerNotFound") return `container "${p.container}" does not exist in storage account "${p.account}"`;
  if (code === "BlobNotFound" || e.statusCode === 404) return `no blob "${p.blob}" in container "${p.container}"`;
  // A wrong shared key is AuthenticationFailed on Azure, AuthorizationFailure on Azurite: both 403.
  if (e.statusCode === 401 || e.statusCode === 403) {
    return `access denied (${code || e.statusCode}) to ${p.container}/${p.blob}: check AZURE_STORAGE_ACCESS_KEY (or the connection string's AccountKey or SAS) and the account's network rules`;
  }
  if (["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "ConnectionRefused", "REQUEST_SEND_ERROR"].includes(code)) {
    return `cannot reach ${endpoint} (${code}): check the network and the connection string's BlobEndpoint`;
  }
  return `${code || "error"}: ${(e.message ?? String(err)).split("\n")[0]}`;
}

export const fetchAzureBlob: ArchiveFetcher = async (spec, opts) => {
  const p = parseAzureBlobSpec(spec);
  const target = azureTarget(spec, p, opts.env);
  const az = await import("@azure/storage-blob");
  const credential = target.key
    ? new az.StorageSharedKeyCredential(p.account, target.key)
    : new az.AnonymousCredential();
  // One attempt: a wrong endpoint should fail now, not after the SDK's minute of back-off.
  const client = new az.BlobClient(target.url, credential, { retryOptions: { maxTries: 1 } });
  try {
    const res = await client.download(0, undefined, { abortSignal: opts.signal });
    if (!res.readableStreamBody) throw new Error("empty response body");
    return { stream: Readable.toWeb(res.readableStreamBody as Readable) as ReadableStream<Uint8Array>, describe: spec };
  } catch (err) {
    throw new ContextError(`--context ${spec}: ${explain(err, p, target.endpoint)}`);
  }
};
