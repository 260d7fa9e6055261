// ACR login: an Azure AD token from @azure/identity (imported on first use), exchanged at the registry's
// /oauth2/exchange for an ACR refresh token, which the token flow presents as an identity token (as `az acr login`
// and docker-credential-acr-env do).
//
// The chain is explicit rather than DefaultAzureCredential: each credential gets its settings from the environment the
// CLI passed (DefaultAzureCredential reads process.env only), a misconfigured service principal is reported as such
// instead of being skipped for the next credential, and nothing spawns az, azd or pwsh inside a build.
import { readFileSync } from "node:fs";
import type { CloudLogin } from "./cloud.ts";
import { CredentialError, type Credential } from "./keychain.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** The username ACR expects beside a refresh token. */
export const ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

interface Cloud {
  authorityHost: string;
  scope: string;
}

/** The Azure cloud a registry lives in, by its domain: where to sign in and which audience ACR accepts. */
export function azureCloudOf(registry: string): Cloud {
  const host = registry.toLowerCase().replace(/:\d+$/, "");
  if (host.endsWith(".azurecr.cn")) return { authorityHost: "https://login.chinacloudapi.cn", scope: "https://management.chinacloudapi.cn/.default" };
  if (host.endsWith(".azurecr.us")) return { authorityHost: "https://login.microsoftonline.us", scope: "https://management.usgovcloudapi.net/.default" };
  if (host.endsWith(".azurecr.de")) return { authorityHost: "https://login.microsoftonline.de", scope: "https://management.microsoftazure.de/.default" };
  // ACR's own audience works even where a registry refuses ARM-audience tokens (authentication-as-arm disabled).
  return { authorityHost: "https://login.microsoftonline.com", scope: "https://containerregistry.azure.net/.default" };
}

export type AzureIdentity =
  | { kind: "service-principal"; tenantId: string; clientId: string; secret?: string; certificatePath?: string }
  | { kind: "workload-identity"; tenantId: string; clientId: string; tokenFilePath: string }
  | { kind: "managed-identity"; clientId?: string };

/** The variables that select each identity, for "what to set" in messages. */
const SETTINGS = "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), or AZURE_FEDERATED_TOKEN_FILE for workload identity";

/**
 * Which identity the environment configures, in docker-credential-acr-env's order: a service principal, workload
 * identity's federated token, then managed identity where one is reachable (App Service's IDENTITY_ENDPOINT, or an
 * Azure VM's instance metadata). undefined: no identity, so the registry is used anonymously.
 */
export function azureIdentityOf(env: Env, onAzure: () => boolean): AzureIdentity | undefined {
  const tenantId = env.AZURE_TENANT_ID, clientId = env.AZURE_CLIENT_ID;
  if (tenantId && clientId && (env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH)) {
    return { kind: "service-principal", tenantId, clientId, secret: env.AZURE_CLIENT_SECRET, certificatePath: env.AZURE_CLIENT_CERTIFICATE_PATH };
  }
  if (env.AZURE_FEDERATED_TOKEN_FILE && tenantId && clientId) {
    return { kind: "workload-identity", tenantId, clientId, tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE };
  }
  if (env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT || onAzure()) return { kind: "managed-identity", clientId };
  return undefined;
}

/** Azure VMs (and AKS nodes) carry this chassis asset tag; elsewhere probing the instance metadata costs a timeout. */
export function onAzureVm(read: (p: string) => string = (p) => readFileSync(p, "utf8")): boolean {
  try {
    return read("/sys/class/dmi/id/chassis_asset_tag").trim() === "7783-7084-3265-9085-8269-3286-77";
  } catch {
    return false;
  }
}

/** The refresh token of an /oauth2/exchange answer and when it expires (its JWT exp, else the AAD token's). */
export function parseExchange(body: string, fallbackExpiresAt: number | undefined): { token: string; expiresAt?: number } | undefined {
  let token: unknown;
  try {
    token = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
  } catch {
    return undefined;
  }
  if (typeof token !== "string" || !token) return undefined;
  const expiresAt = jwtExpiry(token) ?? fallbackExpiresAt;
  return expiresAt ? { token, expiresAt } : { token };
}

function jwtExpiry(jwt: string): number | undefined {
  const payload = jwt.split(".")[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function describeIdentity(id: AzureIdentity): string {
  if (id.kind === "service-principal") return `service principal ${id.clientId}`;
  if (id.kind === "workload-identity") return `workload identity ${id.clientId} (${id.tokenFilePath})`;
  return id.clientId ? `managed identity ${id.clientId}` : "managed identity";
}

function firstLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split("\n").map((l) => l.trim()).filter(Boolean)[0] ?? "unknown error";
}

export const acrLogin: CloudLogin = async (registry, { env, signal }) => {
  const identity = azureIdentityOf(env, onAzureVm);
  if (!identity) return undefined;
  const cloud = azureCloudOf(registry);
  const who = describeIdentity(identity);
  const fail = (what: string, advice: string) =>
    new CredentialError(registry, `cannot log in to ${registry} with Azure AD ${who}: ${what}; ${advice}`);
  const id = await import("@azure/identity");
  const authorityHost = env.AZURE_AUTHORITY_HOST || cloud.authorityHost;
  // Instance discovery asks login.microsoftonline.com about the authority; a private or emulated one is not listed.
  const common = { authorityHost, disableInstanceDiscovery: !!env.AZURE_AUTHORITY_HOST && authorityHost !== cloud.authorityHost };
  const credential =
    identity.kind === "service-principal"
      ? identity.secret
        ? new id.ClientSecretCredential(identity.tenantId, identity.clientId, identity.secret, common)
        : new id.ClientCertificateCredential(identity.tenantId, identity.clientId, identity.certificatePath!, common)
      : identity.kind === "workload-identity"
        ? new id.WorkloadIdentityCredential({ ...common, tenantId: identity.tenantId, clientId: identity.clientId, tokenFilePath: identity.tokenFilePath })
        : new id.ManagedIdentityCredential(identity.clientId ? { clientId: identity.clientId } : {});
  let aad: { token: string; expiresOnTimestamp: number } | null;
  try {
    aad = await credential.getToken(cloud.scope, { abortSignal: signal });
  } catch (e) {
    // Managed identity that is not there after all (IMDS absent): no identity, not a failure.
    if (identity.kind === "managed-identity" && e instanceof id.CredentialUnavailableError) return undefined;
    throw fail(firstLine(e), `check ${SETTINGS}`);
  }
  if (!aad?.token) throw fail("Azure AD returned no token", `check ${SETTINGS}`);
  return exchange(registry, aad, identity, signal, fail);
};

async function exchange(
  registry: string,
  aad: { token: string; expiresOnTimestamp: number },
  identity: AzureIdentity,
  signal: AbortSignal | undefined,
  fail: (what: string, advice: string) => CredentialError,
): Promise<Credential> {
  const form = new URLSearchParams({ grant_type: "access_token", service: registry.replace(/:443$/, ""), access_token: aad.token });
  if (identity.kind !== "managed-identity") form.set("tenant", identity.tenantId);
  const url = `https://${registry}/oauth2/exchange`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" }, signal });
  } catch (e) {
    throw fail(`${url} failed (${(e as { code?: string }).code ?? firstLine(e)})`, "check that the registry name is right and reachable");
  }
  const body = await res.text();
  if (!res.ok) {
    throw fail(`${url} answered ${res.status} ${body.trim().slice(0, 200)}`, "grant the identity AcrPull (and AcrPush to push) on the registry");
  }
  const parsed = parseExchange(body, aad.expiresOnTimestamp);
  if (!parsed) throw fail(`${url} returned no refresh_token`, "check that the registry is an Azure Container Registry");
  return { kind: "identityToken", token: parsed.token, username: ACR_TOKEN_USER, ...(parsed.expiresAt ? { expiresAt: parsed.expiresAt } : {}) };
}
