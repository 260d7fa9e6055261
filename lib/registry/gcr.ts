// GCR / Artifact Registry login: an OAuth2 access token from Google's Application Default Credentials, presented as
// basic "oauth2accesstoken" / token, as docker-credential-gcr does. google-auth-library is imported on first use only.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CloudLogin } from "./cloud.ts";
import { CredentialError, type Credential } from "./keychain.ts";

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** The token endpoint google-auth-library posts JWT-bearer grants to, whatever the key file's token_uri says. */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const PROVIDER = "Google Application Default Credentials";

type Env = Readonly<Record<string, string | undefined>>;

/** The credential a registry of Google's accepts for an access token. */
export function gcrCredential(token: string, expiresAt: number | undefined): Credential {
  return { kind: "basic", username: "oauth2accesstoken", password: token, ...(expiresAt ? { expiresAt } : {}) };
}

/** Where ADC is read from: GOOGLE_APPLICATION_CREDENTIALS, else gcloud's well-known file when it exists. */
export function adcFile(env: Env, exists: (p: string) => boolean = existsSync): { path: string; explicit: boolean } | undefined {
  if (env.GOOGLE_APPLICATION_CREDENTIALS) return { path: env.GOOGLE_APPLICATION_CREDENTIALS, explicit: true };
  const dir = env.CLOUDSDK_CONFIG ?? (env.HOME ? join(env.HOME, ".config", "gcloud") : undefined);
  const path = dir && join(dir, "application_default_credentials.json");
  return path && exists(path) ? { path, explicit: false } : undefined;
}

/**
 * A key file's token_uri when it is not Google's default. google-auth-library always posts to oauth2.googleapis.com;
 * Google's Go library (docker-credential-gcr's) honours token_uri, so kiln does too (private or emulated endpoints).
 */
export function tokenUriOf(keyJson: string): string | undefined {
  let parsed: { token_uri?: unknown };
  try {
    parsed = JSON.parse(keyJson);
  } catch {
    return undefined; // the library reports the unparsable file itself
  }
  const uri = typeof parsed.token_uri === "string" ? parsed.token_uri : undefined;
  return uri && uri !== GOOGLE_TOKEN_URL ? uri : undefined;
}

/**
 * Whether to ask the metadata server: when its address is set, when detection is configured, or when the machine is
 * on Google Cloud (BIOS / serverless markers). Elsewhere a ping would cost a timeout on every anonymous gcr.io pull.
 */
export function useMetadataServer(env: Env, onGoogleCloud: () => boolean): boolean {
  if (env.GCE_METADATA_HOST || env.GCE_METADATA_IP) return true;
  const detection = env.METADATA_SERVER_DETECTION?.trim().toLowerCase();
  if (detection === "none") return false;
  if (detection === "assume-present" || detection === "ping-only") return true;
  return onGoogleCloud();
}

function fail(registry: string, source: string, e: unknown, advice: string): CredentialError {
  const why = ((e as Error)?.message ?? String(e)).split("\n")[0];
  return new CredentialError(registry, `cannot log in to ${registry} with ${PROVIDER} (${source}): ${why}; ${advice}`);
}

export const gcrLogin: CloudLogin = async (registry, { env, signal }) => {
  const file = adcFile(env);
  const lib = await import("google-auth-library");
  const tokenUri = file ? tokenUriOf(readKey(registry, file.path)) : undefined;
  const fetchImplementation = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return fetch(tokenUri && url === GOOGLE_TOKEN_URL ? tokenUri : url, { ...init, ...(signal ? { signal } : {}) });
  };
  const transporterOptions = { fetchImplementation } as never;
  let client: { getAccessToken(): Promise<{ token?: string | null }>; credentials: { expiry_date?: number | null } };
  let source: string;
  let advice: string;
  if (file) {
    source = `key file ${file.path}`;
    advice = file.explicit
      ? "point GOOGLE_APPLICATION_CREDENTIALS at a valid service-account or ADC JSON file"
      : "run `gcloud auth application-default login` again, or set GOOGLE_APPLICATION_CREDENTIALS";
    try {
      const auth = new lib.GoogleAuth({ keyFilename: file.path, scopes: [SCOPE], clientOptions: { transporterOptions } });
      client = (await auth.getClient()) as unknown as typeof client;
    } catch (e) {
      throw fail(registry, source, e, advice);
    }
  } else {
    if (!useMetadataServer(env, () => lib.gcpMetadata.getGCPResidency())) return undefined;
    source = "the metadata server";
    advice = "check the workload's service account (Workload Identity) or set GOOGLE_APPLICATION_CREDENTIALS";
    client = new lib.Compute({ scopes: [SCOPE], transporterOptions }) as unknown as typeof client;
  }
  let token: string | null | undefined;
  try {
    token = (await client.getAccessToken()).token;
  } catch (e) {
    // No metadata server at the address (a machine off Google Cloud, or a test's dead address): no identity.
    if (!file && unreachable(e)) return undefined;
    throw fail(registry, source, e, advice);
  }
  if (!token) throw fail(registry, source, "no access token in the answer", advice);
  return gcrCredential(token, client.credentials.expiry_date ?? undefined);
};

const UNREACHABLE = /ECONNREFUSED|ConnectionRefused|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ConnectionClosed|FailedToOpenSocket/;

function unreachable(e: unknown): boolean {
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    if (UNREACHABLE.test(String((c as { code?: unknown }).code ?? ""))) return true;
  }
  return false;
}

function readKey(registry: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw fail(registry, `key file ${path}`, (e as NodeJS.ErrnoException).code ?? e, "point GOOGLE_APPLICATION_CREDENTIALS at a readable service-account JSON file");
  }
}
