import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGcpStandin, type GcpStandin } from "../../tests/support/gcp-standin.ts";
import { adcFile, gcrCredential, gcrLogin, tokenUriOf, useMetadataServer } from "./gcr.ts";
import { CredentialError } from "./keychain.ts";

describe("ADC parsing", () => {
  test("the access token is presented as oauth2accesstoken, with its expiry", () => {
    expect(gcrCredential("ya29.x", 1234)).toEqual({ kind: "basic", username: "oauth2accesstoken", password: "ya29.x", expiresAt: 1234 });
    expect(gcrCredential("ya29.x", undefined)).toEqual({ kind: "basic", username: "oauth2accesstoken", password: "ya29.x" });
  });

  test("GOOGLE_APPLICATION_CREDENTIALS wins; gcloud's well-known file only when it exists", () => {
    expect(adcFile({ GOOGLE_APPLICATION_CREDENTIALS: "/k.json", HOME: "/h" }, () => true)).toEqual({ path: "/k.json", explicit: true });
    expect(adcFile({ HOME: "/h" }, (p) => p === "/h/.config/gcloud/application_default_credentials.json"))
      .toEqual({ path: "/h/.config/gcloud/application_default_credentials.json", explicit: false });
    expect(adcFile({ HOME: "/h", CLOUDSDK_CONFIG: "/c" }, (p) => p === "/c/application_default_credentials.json"))
      .toEqual({ path: "/c/application_default_credentials.json", explicit: false });
    expect(adcFile({ HOME: "/h" }, () => false)).toBeUndefined();
    expect(adcFile({}, () => true)).toBeUndefined();
  });

  test("token_uri is honoured only when it differs from Google's", () => {
    expect(tokenUriOf(JSON.stringify({ token_uri: "http://127.0.0.1:9/token" }))).toBe("http://127.0.0.1:9/token");
    expect(tokenUriOf(JSON.stringify({ token_uri: "https://oauth2.googleapis.com/token" }))).toBeUndefined();
    expect(tokenUriOf(JSON.stringify({ type: "authorized_user" }))).toBeUndefined();
    expect(tokenUriOf("not json")).toBeUndefined();
  });

  test("the metadata server is asked only when configured or on Google Cloud", () => {
    expect(useMetadataServer({ GCE_METADATA_HOST: "127.0.0.1:1" }, () => false)).toBe(true);
    expect(useMetadataServer({ GCE_METADATA_IP: "127.0.0.1" }, () => false)).toBe(true);
    expect(useMetadataServer({ METADATA_SERVER_DETECTION: "assume-present" }, () => false)).toBe(true);
    expect(useMetadataServer({ METADATA_SERVER_DETECTION: "none" }, () => true)).toBe(false);
    expect(useMetadataServer({}, () => true)).toBe(true);
    expect(useMetadataServer({}, () => false)).toBe(false);
  });
});

describe("gcrLogin against stand-ins of Google's endpoints", () => {
  let google: GcpStandin;
  let dir: string;
  const TOKEN = "ya29.kiln-test-access-token";

  beforeAll(async () => {
    google = startGcpStandin({ token: TOKEN });
    dir = await mkdtemp(join(tmpdir(), "kiln-gcr-"));
  });
  afterAll(async () => {
    google.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    google.requests.length = 0;
    delete process.env.GCE_METADATA_HOST;
  });

  test("a service-account key: a JWT-bearer grant at the key's token_uri", async () => {
    const key = await google.writeServiceAccount(dir);
    const before = Date.now();
    const cred = await gcrLogin("gcr.io", { env: { GOOGLE_APPLICATION_CREDENTIALS: key } });
    expect(cred).toMatchObject({ kind: "basic", username: "oauth2accesstoken", password: TOKEN });
    expect(cred!.expiresAt!).toBeGreaterThan(before + 3000_000);
    expect(google.requests).toEqual([{ endpoint: "token", granted: true, scope: "https://www.googleapis.com/auth/cloud-platform", email: "kiln-test@kiln-test.iam.gserviceaccount.com" }]);
  });

  test("a key the endpoint rejects: one CredentialError naming the registry, the provider and what to set", async () => {
    const other = startGcpStandin({ token: "x" });
    try {
      const sub = await mkdtemp(join(dir, "other-"));
      // Signed by another key than the one the endpoint at token_uri knows.
      const key = await other.writeServiceAccount(sub);
      const text = (await Bun.file(key).text()).replace(other.tokenUri, google.tokenUri);
      await writeFile(key, text);
      const err = await gcrLogin("europe-docker.pkg.dev", { env: { GOOGLE_APPLICATION_CREDENTIALS: key } }).catch((e) => e);
      expect(err).toBeInstanceOf(CredentialError);
      expect(err.message).toContain("cannot log in to europe-docker.pkg.dev with Google Application Default Credentials");
      expect(err.message).toContain("invalid_grant");
      expect(err.message).toContain("GOOGLE_APPLICATION_CREDENTIALS");
      expect(err.message).not.toContain("\n");
    } finally {
      other.stop();
    }
  });

  test("a missing key file is an error, not an anonymous pull", async () => {
    const err = await gcrLogin("gcr.io", { env: { GOOGLE_APPLICATION_CREDENTIALS: join(dir, "nope.json") } }).catch((e) => e);
    expect(err).toBeInstanceOf(CredentialError);
    expect(err.message).toMatch(/gcr\.io .*key file .*nope\.json.*ENOENT.*GOOGLE_APPLICATION_CREDENTIALS/);
  });

  test("Workload Identity: the metadata server's token, asked with Metadata-Flavor", async () => {
    // The SDK reads the metadata host from the process environment itself.
    process.env.GCE_METADATA_HOST = google.host;
    const cred = await gcrLogin("us-docker.pkg.dev", { env: { GCE_METADATA_HOST: google.host, HOME: dir } });
    expect(cred).toMatchObject({ kind: "basic", username: "oauth2accesstoken", password: TOKEN });
    expect(google.requests.map((r) => [r.endpoint, r.granted])).toEqual([["metadata", true]]);
  });

  test("no ADC and no metadata server: no identity, so the pull goes on anonymously", async () => {
    expect(await gcrLogin("gcr.io", { env: { HOME: dir, METADATA_SERVER_DETECTION: "none" } })).toBeUndefined();
    expect(google.requests).toEqual([]);
  });
});

test("a metadata server address where nothing listens: no identity, not an error", async () => {
  const { freePort } = await import("../../tests/support/registry.ts");
  const dead = `127.0.0.1:${freePort()}`;
  process.env.GCE_METADATA_HOST = dead;
  try {
    expect(await gcrLogin("gcr.io", { env: { GCE_METADATA_HOST: dead, HOME: "/nonexistent" } })).toBeUndefined();
  } finally {
    delete process.env.GCE_METADATA_HOST;
  }
});
