import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAzureStandin, type AzureStandin } from "../../tests/support/azure-standin.ts";
import { ACR_TOKEN_USER, azureCloudOf, azureIdentityOf, onAzureVm, parseExchange } from "./acr.ts";

const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("ACR token parsing", () => {
  test("the refresh token expires when its JWT says, else when the AAD token does", () => {
    expect(parseExchange(JSON.stringify({ refresh_token: jwt({ exp: 2000 }) }), 5)).toEqual({ token: jwt({ exp: 2000 }), expiresAt: 2_000_000 });
    expect(parseExchange(JSON.stringify({ refresh_token: "opaque" }), 5)).toEqual({ token: "opaque", expiresAt: 5 });
    expect(parseExchange(JSON.stringify({ refresh_token: "opaque" }), undefined)).toEqual({ token: "opaque" });
    expect(parseExchange(JSON.stringify({ access_token: "x" }), 5)).toBeUndefined();
    expect(parseExchange("<html>", 5)).toBeUndefined();
  });

  test("each Azure cloud signs in at its own authority with an audience ACR accepts", () => {
    expect(azureCloudOf("x.azurecr.io")).toEqual({ authorityHost: "https://login.microsoftonline.com", scope: "https://containerregistry.azure.net/.default" });
    expect(azureCloudOf("x.azurecr.cn:443").authorityHost).toBe("https://login.chinacloudapi.cn");
    expect(azureCloudOf("x.azurecr.us").scope).toBe("https://management.usgovcloudapi.net/.default");
  });

  test("identity order: service principal, workload identity, managed identity where reachable", () => {
    const sp = { AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c" };
    expect(azureIdentityOf({ ...sp, AZURE_CLIENT_SECRET: "s", AZURE_FEDERATED_TOKEN_FILE: "/f" }, () => true))
      .toEqual({ kind: "service-principal", tenantId: "t", clientId: "c", secret: "s", certificatePath: undefined });
    expect(azureIdentityOf({ ...sp, AZURE_CLIENT_CERTIFICATE_PATH: "/c.pem" }, () => false)).toMatchObject({ kind: "service-principal", certificatePath: "/c.pem" });
    expect(azureIdentityOf({ ...sp, AZURE_FEDERATED_TOKEN_FILE: "/f" }, () => false)).toEqual({ kind: "workload-identity", tenantId: "t", clientId: "c", tokenFilePath: "/f" });
    expect(azureIdentityOf({ AZURE_CLIENT_ID: "c" }, () => true)).toEqual({ kind: "managed-identity", clientId: "c" });
    expect(azureIdentityOf({ IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi" }, () => false)).toEqual({ kind: "managed-identity", clientId: undefined });
    expect(azureIdentityOf({ AZURE_CLIENT_SECRET: "s" }, () => false)).toBeUndefined();
    expect(azureIdentityOf({}, () => false)).toBeUndefined();
  });

  test("an Azure VM is recognised by its chassis asset tag", () => {
    expect(onAzureVm(() => "7783-7084-3265-9085-8269-3286-77\n")).toBe(true);
    expect(onAzureVm(() => "None\n")).toBe(false);
    expect(onAzureVm(() => { throw new Error("ENOENT"); })).toBe(false);
  });
});

/**
 * acrLogin in a child process: MSAL only talks HTTPS, and a Bun process reads NODE_EXTRA_CA_CERTS (the stand-in's CA)
 * at start-up only. Prints the credential as JSON, or "ERR <name> <message>".
 */
async function loginInChild(az: AzureStandin, env: Record<string, string>): Promise<string> {
  const script = `import { acrLogin } from ${JSON.stringify(join(import.meta.dir, "acr.ts"))};
    try { console.log(JSON.stringify(await acrLogin(process.env.KILN_TEST_REGISTRY, { env: JSON.parse(process.env.KILN_TEST_ENV) }))); }
    catch (e) { console.log("ERR", e.name, e.message); }`;
  const p = Bun.spawn([process.execPath, "-e", script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_EXTRA_CA_CERTS: az.caFile, KILN_TEST_REGISTRY: az.host, KILN_TEST_ENV: JSON.stringify(env) },
    stdout: "pipe", stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (!out.trim()) throw new Error(`child printed nothing: ${err}`);
  return out.trim();
}

describe("acrLogin against a stand-in of Azure AD and ACR's exchange", () => {
  let az: AzureStandin;
  let dir: string;
  const REFRESH = jwt({ exp: 4_000_000_000, grant_type: "refresh_token" });
  beforeAll(async () => {
    az = await startAzureStandin({ refreshToken: REFRESH });
    dir = await mkdtemp(join(tmpdir(), "kiln-acr-"));
  });
  afterAll(async () => {
    await az.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const base = () => ({ AZURE_AUTHORITY_HOST: az.url, AZURE_TENANT_ID: az.tenantId, AZURE_CLIENT_ID: az.clientId });

  test("service principal: AAD token exchanged for the refresh token, used as an identity token", async () => {
    az.requests.length = 0;
    const out = JSON.parse(await loginInChild(az, { ...base(), AZURE_CLIENT_SECRET: az.clientSecret }));
    expect(out).toEqual({ kind: "identityToken", token: REFRESH, username: ACR_TOKEN_USER, expiresAt: 4_000_000_000_000 });
    expect(az.requests).toEqual([
      { endpoint: "token", granted: true, grant: "client_secret", scope: "https://containerregistry.azure.net/.default" },
      { endpoint: "exchange", granted: true, service: az.host, tenant: az.tenantId },
    ]);
  });

  test("workload identity: the federated token file is the client assertion", async () => {
    az.requests.length = 0;
    const file = join(dir, "azure-identity-token");
    await writeFile(file, az.federatedToken);
    const out = JSON.parse(await loginInChild(az, { ...base(), AZURE_FEDERATED_TOKEN_FILE: file }));
    expect(out.token).toBe(REFRESH);
    expect(az.requests.map((r) => [r.endpoint, r.granted, r.grant])).toEqual([["token", true, "client_assertion"], ["exchange", true, undefined]]);
  });

  test("a wrong secret: one CredentialError line naming the registry, the identity and what to set", async () => {
    const out = await loginInChild(az, { ...base(), AZURE_CLIENT_SECRET: "wrong" });
    expect(out).toStartWith(`ERR CredentialError cannot log in to ${az.host} with Azure AD service principal ${az.clientId}:`);
    expect(out).toContain("AADSTS7000215");
    expect(out).toContain("AZURE_CLIENT_SECRET");
    expect(out.split("\n")).toHaveLength(1);
  });

  test("no Azure identity in the environment: no credential (anonymous), nothing asked", async () => {
    az.requests.length = 0;
    expect(await loginInChild(az, { AZURE_AUTHORITY_HOST: az.url })).toBe("undefined");
    expect(az.requests).toEqual([]);
  });
});
