// dist/kiln logs in to GCR/Artifact Registry and ACR with nothing but the cloud identity in its environment, pushing
// to the real registry reached under the cloud's host name (tests/support/cloud-registry.ts). The token Google's
// stand-in endpoints hand out must be exactly the password of an htpasswd registry (user oauth2accesstoken), and the
// refresh token ACR's stand-in exchange hands out exactly the one the token-auth registry's token server accepts.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startAzureStandin, type AzureStandin } from "../support/azure-standin.ts";
import { hostsFile, isolatedCloudEnv, runKilnWithHosts, startCloudRegistry, startFront, type CloudRegistry, type Front } from "../support/cloud-registry.ts";
import { startGcpStandin, type GcpStandin } from "../support/gcp-standin.ts";
import { makeContext } from "../support/kiln.ts";
import { MANIFEST_ACCEPT, startRegistry, type TestRegistry } from "../support/registry.ts";

setDefaultTimeout(120_000);

const GCR_HOST = "gcr.io";
const AR_HOST = "europe-west1-docker.pkg.dev";
const ACR_HOST = "kilntest.azurecr.io";

const cleanup: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(d);
  return d;
};
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** A DOCKER_CONFIG directory whose config.json is `config`; no docker-credential-* binary is on PATH. */
function dockerConfig(config: object): string {
  const d = tempDir("kiln-docker-");
  writeFileSync(join(d, "config.json"), JSON.stringify(config));
  return d;
}

/** Exit 0; on failure the assertion shows kiln's log (which goes to stderr). */
function expectPushed(r: { code: number; stderr: string }): void {
  expect({ code: r.code, log: r.code === 0 ? "" : r.stderr }).toEqual({ code: 0, log: "" });
  expect(r.stderr).toContain("Pushed ");
}

async function manifestStatus(reg: TestRegistry, repo: string, tag: string): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_ACCEPT, authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` },
    tls: { ca: await Bun.file(reg.caFile!).text() },
  } as RequestInit);
  return res.status;
}

describe("GCR / Artifact Registry login through Application Default Credentials", () => {
  let gcr: CloudRegistry, ar: CloudRegistry, google: GcpStandin, metadata: GcpStandin, hosts: string, ctx: string;
  beforeAll(async () => {
    [gcr, ar] = await Promise.all([
      startCloudRegistry(GCR_HOST, { auth: "htpasswd", username: "oauth2accesstoken" }),
      startCloudRegistry(AR_HOST, { auth: "htpasswd", username: "oauth2accesstoken" }),
    ]);
    google = startGcpStandin({ token: gcr.registry.password! });
    metadata = startGcpStandin({ token: ar.registry.password! });
    hosts = hostsFile([GCR_HOST, AR_HOST]);
    cleanup.push(dirname(hosts));
    ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hi from gcr\n" });
    cleanup.push(ctx);
  });
  afterAll(async () => {
    google?.stop();
    metadata?.stop();
    await Promise.all([gcr?.stop(), ar?.stop()]);
  });
  const push = (reg: CloudRegistry, ref: string, env: Record<string, string>) =>
    runKilnWithHosts(hosts, ["-c", ctx, "-d", `${reg.name}/${ref}`, reg.certificateFlag], { ...isolatedCloudEnv(tempDir("kiln-home-")), ...env });

  test("gcr.io, no config.json: a service-account key's access token is the password kiln presents", async () => {
    google.requests.length = 0;
    const key = await google.writeServiceAccount(tempDir("kiln-sa-"));
    const r = await push(gcr, "proj/app:sa", { GOOGLE_APPLICATION_CREDENTIALS: key });
    expectPushed(r);
    expect(google.requests.map((q) => [q.endpoint, q.granted])).toEqual([["token", true]]);
    expect(await manifestStatus(gcr.registry, "proj/app", "sa")).toBe(200);
  });

  test("*-docker.pkg.dev, no config.json: Workload Identity through the metadata server", async () => {
    const r = await push(ar, "proj/repo/app:wi", { GCE_METADATA_HOST: metadata.host, GCE_METADATA_IP: metadata.host });
    expectPushed(r);
    expect(metadata.requests.map((q) => [q.endpoint, q.granted])).toEqual([["metadata", true]]);
    expect(await manifestStatus(ar.registry, "proj/repo/app", "wi")).toBe(200);
  });

  test("credHelpers {gcr.io: gcr} without docker-credential-gcr on PATH: the built-in login", async () => {
    google.requests.length = 0;
    const key = await google.writeServiceAccount(tempDir("kiln-sa-"));
    const r = await push(gcr, "proj/app:helper", { GOOGLE_APPLICATION_CREDENTIALS: key, DOCKER_CONFIG: dockerConfig({ credHelpers: { [gcr.name]: "gcr" } }) });
    expectPushed(r);
    expect(google.requests.map((q) => [q.endpoint, q.granted])).toEqual([["token", true]]);
    expect(await manifestStatus(gcr.registry, "proj/app", "helper")).toBe(200);
  });

  test("a key file that does not exist: one line naming the registry, the provider and the variable", async () => {
    const r = await push(gcr, "proj/app:bad", { GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/key.json" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot log in to ${gcr.name} with Google Application Default Credentials (key file /nonexistent/key.json): ENOENT`);
    expect(r.stderr).toContain("GOOGLE_APPLICATION_CREDENTIALS");
    expect(await manifestStatus(gcr.registry, "proj/app", "bad")).toBe(404);
  });
});

describe("ACR login: an Azure AD token exchanged for an ACR refresh token", () => {
  let reg: TestRegistry, az: AzureStandin, front: Front, hosts: string, ctx: string, caBundle: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    // The token server grants a refresh_token grant whose token is the registry password: the exchange must hand
    // exactly that to kiln, and kiln must present it at the registry's token realm.
    az = await startAzureStandin({ refreshToken: reg.password! });
    front = await startFront(ACR_HOST, reg, (req) => az.exchange(req));
    hosts = hostsFile([ACR_HOST]);
    cleanup.push(dirname(hosts));
    // kiln's own fetch of login.microsoftonline.com and of the exchange trusts the stand-ins' CAs through the
    // environment, as it would trust a corporate proxy's.
    const d = tempDir("kiln-ca-");
    caBundle = join(d, "ca.pem");
    const frontCa = /=([^=]+)$/.exec(front.certificateFlag)![1];
    writeFileSync(caBundle, (await Bun.file(az.caFile).text()) + (await Bun.file(frontCa).text()));
    ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hi from acr\n" });
    cleanup.push(ctx);
  });
  afterAll(async () => {
    await front?.stop();
    await az?.stop();
    await reg?.stop();
  });
  const push = (ref: string, env: Record<string, string>) =>
    runKilnWithHosts(hosts, ["-c", ctx, "-d", `${front.name}/${ref}`, front.certificateFlag], {
      ...isolatedCloudEnv(tempDir("kiln-home-")), NODE_EXTRA_CA_CERTS: caBundle,
      AZURE_AUTHORITY_HOST: az.url, AZURE_TENANT_ID: az.tenantId, AZURE_CLIENT_ID: az.clientId, ...env,
    });

  test("*.azurecr.io, no config.json: a service principal's token is exchanged and the refresh token pushes", async () => {
    reg.tokenRequests!.length = 0;
    az.requests.length = 0;
    const r = await push("team/app:sp", { AZURE_CLIENT_SECRET: az.clientSecret });
    expectPushed(r);
    expect(az.requests.map((q) => [q.endpoint, q.granted, q.service])).toEqual([["token", true, undefined], ["exchange", true, front.name]]);
    // Every registry token kiln asked for was a refresh-token grant the token server accepted.
    expect(reg.tokenRequests!.length).toBeGreaterThan(0);
    expect(reg.tokenRequests!.every((q) => q.method === "POST" && q.granted)).toBe(true);
    expect(reg.tokenRequests!.some((q) => q.scopes.includes("repository:team/app:pull,push"))).toBe(true);
  });

  test("workload identity, through credHelpers {registry: acr-env} without the binary", async () => {
    az.requests.length = 0;
    const file = join(tempDir("kiln-wi-"), "azure-identity-token");
    writeFileSync(file, az.federatedToken);
    const r = await push("team/app:wi", { AZURE_FEDERATED_TOKEN_FILE: file, DOCKER_CONFIG: dockerConfig({ credHelpers: { [front.name]: "acr-env" } }) });
    expectPushed(r);
    expect(az.requests.map((q) => [q.endpoint, q.granted, q.grant])).toEqual([["token", true, "client_assertion"], ["exchange", true, undefined]]);
  });

  test("a wrong client secret: one line naming the registry, the identity and what to set", async () => {
    const r = await push("team/app:bad", { AZURE_CLIENT_SECRET: "wrong" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot log in to ${front.name} with Azure AD service principal ${az.clientId}`);
    expect(r.stderr).toContain("AZURE_CLIENT_SECRET");
  });
});
