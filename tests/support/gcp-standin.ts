// Loopback stand-ins for Google's credential endpoints: the OAuth2 token endpoint (JWT-bearer grants signed by a
// service account's key, verified here) and the metadata server's token path (Workload Identity), both handing out
// a token the test chooses, e.g. the password of an htpasswd registry.
import { createVerify, generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface GcpStandin {
  /** http://127.0.0.1:PORT; GCE_METADATA_HOST takes "127.0.0.1:PORT" */
  url: string;
  host: string;
  tokenUri: string;
  /** Writes a service-account key JSON whose token_uri points here; returns its path. */
  writeServiceAccount(dir: string, email?: string): Promise<string>;
  /** Every grant asked for, in order: which endpoint, and whether it was granted. */
  requests: { endpoint: "token" | "metadata"; granted: boolean; scope?: string; email?: string }[];
  stop(): void;
}

const METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token";

export function startGcpStandin(o: { token: string; expiresIn?: number }): GcpStandin {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const requests: GcpStandin["requests"] = [];
  const expires_in = o.expiresIn ?? 3600;
  const grant = () => Response.json({ access_token: o.token, expires_in, token_type: "Bearer" });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/token" && req.method === "POST") {
        const form = new URLSearchParams(await req.text());
        const claims = verifyAssertion(form.get("assertion") ?? "", publicKey);
        const ok = form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer" && claims !== undefined;
        requests.push({ endpoint: "token", granted: ok, scope: claims?.scope, email: claims?.iss });
        if (!ok) return Response.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, { status: 400 });
        return grant();
      }
      if (url.pathname === METADATA_TOKEN_PATH) {
        // The real server refuses requests without the header, so a request forged by a page cannot read tokens.
        const ok = req.headers.get("metadata-flavor") === "Google";
        requests.push({ endpoint: "metadata", granted: ok, scope: url.searchParams.get("scopes") ?? undefined });
        const headers = { "Metadata-Flavor": "Google" };
        if (!ok) return new Response("Missing Metadata-Flavor:Google header.", { status: 403, headers });
        return Response.json({ access_token: o.token, expires_in, token_type: "Bearer" }, { headers });
      }
      return new Response("not found", { status: 404, headers: { "Metadata-Flavor": "Google" } });
    },
  });
  const host = `127.0.0.1:${server.port}`;
  const url = `http://${host}`;
  return {
    url,
    host,
    tokenUri: `${url}/token`,
    requests,
    async writeServiceAccount(dir, email = "kiln-test@kiln-test.iam.gserviceaccount.com") {
      const path = join(dir, "service-account.json");
      await writeFile(path, JSON.stringify({
        type: "service_account",
        project_id: "kiln-test",
        private_key_id: "kiln-test-key",
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
        client_email: email,
        client_id: "1",
        token_uri: `${url}/token`,
      }));
      return path;
    },
    stop: () => server.stop(true),
  };
}

/** The claims of an RS256 JWT signed by the service account's key; undefined when the signature does not verify. */
function verifyAssertion(jwt: string, publicKey: import("node:crypto").KeyObject): { iss?: string; scope?: string } | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return undefined;
  const ok = createVerify("RSA-SHA256").update(`${parts[0]}.${parts[1]}`).verify(publicKey, Buffer.from(parts[2], "base64url"));
  if (!ok) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1], "base64url").toString());
  } catch {
    return undefined;
  }
}
