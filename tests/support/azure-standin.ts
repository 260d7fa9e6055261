// A loopback stand-in for Azure AD (OIDC metadata and the v2.0 token endpoint, over HTTPS because MSAL refuses any
// other authority), and ACR's /oauth2/exchange as a route for a registry front: it trades the AAD token it issued for
// a refresh token the test chooses (the password of a token-auth registry). The stand-in also serves that route
// itself, so "127.0.0.1:PORT" can be named as a registry whose exchange is all a unit test needs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCerts } from "./registry.ts";

export interface AzureStandin {
  /** https://127.0.0.1:PORT: AZURE_AUTHORITY_HOST */
  url: string;
  /** 127.0.0.1:PORT: the registry name whose /oauth2/exchange this serves */
  host: string;
  /** PEM file of the CA of its certificate (NODE_EXTRA_CA_CERTS for a kiln process) */
  caFile: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** the federated token a workload-identity request must present (write it to AZURE_FEDERATED_TOKEN_FILE) */
  federatedToken: string;
  /** the AAD access token it issues */
  aadToken: string;
  /** what happened, in order */
  requests: { endpoint: "token" | "exchange"; granted: boolean; grant?: string; scope?: string; service?: string; tenant?: string }[];
  /**
   * ACR's POST /oauth2/exchange, as a route for a registry front (startFront in cloud-registry.ts): trades the AAD
   * token this stand-in issued for the refresh token the test chose; undefined for every other request.
   */
  exchange(req: Request): Promise<Response | undefined>;
  stop(): Promise<void>;
}

export async function startAzureStandin(o: { refreshToken: string }): Promise<AzureStandin> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-azure-"));
  const certs = await makeCerts(dir);
  const tenantId = "72f988bf-0000-4000-8000-00000000a2ad";
  const clientId = "11111111-2222-4333-8444-555555555555";
  const clientSecret = `secret-${crypto.randomUUID().slice(0, 8)}`;
  const federatedToken = `federated-${crypto.randomUUID().slice(0, 8)}`;
  const aadToken = `aad-${crypto.randomUUID()}`;
  const requests: AzureStandin["requests"] = [];
  let base = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(certs.cert), key: Bun.file(certs.key) },
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
        return Response.json({
          token_endpoint: `${base}/${tenantId}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${tenantId}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/${tenantId}/oauth2/v2.0/logout`,
          issuer: `${base}/${tenantId}/v2.0`,
          jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`,
          response_types_supported: ["code", "id_token", "token"],
        });
      }
      if (url.pathname === `/${tenantId}/oauth2/v2.0/token` && req.method === "POST") {
        const form = new URLSearchParams(await req.text());
        const byAssertion = form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        const ok = form.get("grant_type") === "client_credentials" && form.get("client_id") === clientId
          && (byAssertion ? form.get("client_assertion") === federatedToken : form.get("client_secret") === clientSecret);
        requests.push({ endpoint: "token", granted: ok, grant: byAssertion ? "client_assertion" : "client_secret", scope: form.get("scope") ?? undefined });
        if (!ok) {
          return Response.json({ error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided.", error_codes: [7000215] }, { status: 401 });
        }
        return Response.json({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: aadToken });
      }
      return (await exchange(req)) ?? new Response("not found", { status: 404 });
    },
  });
  const host = `127.0.0.1:${server.port}`;
  base = `https://${host}`;
  const exchange = async (req: Request): Promise<Response | undefined> => {
    const url = new URL(req.url);
    if (url.pathname !== "/oauth2/exchange" || req.method !== "POST") return undefined;
    const form = new URLSearchParams(await req.text());
    const ok = form.get("grant_type") === "access_token" && form.get("access_token") === aadToken && form.get("service") === url.host;
    requests.push({ endpoint: "exchange", granted: ok, service: form.get("service") ?? undefined, tenant: form.get("tenant") ?? undefined });
    if (!ok) return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "invalid token" }] }, { status: 401 });
    return Response.json({ refresh_token: o.refreshToken });
  };
  return {
    url: base, host, caFile: certs.ca, tenantId, clientId, clientSecret, federatedToken, aadToken, requests, exchange,
    async stop() {
      server.stop(true);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
