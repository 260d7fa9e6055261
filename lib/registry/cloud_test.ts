import { describe, expect, test } from "bun:test";
import { cloudProviderFor, ecrIsFips, ecrRegionOf } from "./cloud.ts";

describe("cloudProviderFor", () => {
  test.each([
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "ecr"],
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", "ecr"],
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", "ecr"],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "ecr"],
    ["123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "ecr"],
    ["123456789012.dkr-ecr.us-east-1.on.aws", "ecr"],
    ["123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "ecr"],
    ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "ecr"],
    ["123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "ecr"],
    ["public.ecr.aws", "ecr-public"],
    ["gcr.io", "gcr"],
    ["eu.gcr.io", "gcr"],
    ["us.gcr.io", "gcr"],
    ["asia.gcr.io", "gcr"],
    ["europe-west1-docker.pkg.dev", "gcr"],
    ["us-docker.pkg.dev", "gcr"],
    ["myregistry.azurecr.io", "acr"],
    ["myregistry.azurecr.io:5443", "acr"],
    ["myregistry.azurecr.cn", "acr"],
    ["myregistry.azurecr.us", "acr"],
  ])("%s -> %s", (host, want) => {
    expect(cloudProviderFor(host)).toBe(want as never);
  });

  test.each([
    "index.docker.io",
    "ghcr.io",
    "quay.io",
    "localhost:5000",
    "127.0.0.1:5000",
    // not 12 digits / wrong shape
    "12345.dkr.ecr.us-east-1.amazonaws.com",
    "123456789012.ecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    "evil-123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "ecr.aws",
    "public.ecr.aws.example.com",
    "notgcr.io",
    "gcr.io.example.com",
    "docker.pkg.dev",
    "us-docker.pkg.dev.example.com",
    "azurecr.io",
    "my.registry.azurecr.io",
    "myregistry.azurecr.io.example.com",
  ])("%s -> none", (host) => {
    expect(cloudProviderFor(host)).toBeUndefined();
  });

  test("the ECR region and FIPS-ness come from the host", () => {
    expect(ecrRegionOf("123456789012.dkr.ecr.eu-central-1.amazonaws.com:5000")).toBe("eu-central-1");
    expect(ecrRegionOf("123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn")).toBe("cn-northwest-1");
    expect(ecrIsFips("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com")).toBe(true);
    expect(ecrIsFips("123456789012.dkr.ecr.us-east-1.amazonaws.com")).toBe(false);
  });
});

import { mkdtempSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { Keychain } from "./keychain.ts";
import type { CloudLogin } from "./cloud.ts";

describe("Keychain and the cloud logins", () => {
  const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const configDir = (cfg: object) => {
    const d = mkdtempSync(join(tmpdir(), "kiln-cloud-kc-"));
    dirs.push(d);
    writeFileSync(join(d, "config.json"), JSON.stringify(cfg));
    return d;
  };
  /** A login that counts its calls and hands out tokens valid for `ttlMs`. */
  const counting = (ttlMs?: number, clock = () => 0) => {
    const calls: { registry: string; env: object }[] = [];
    const login: CloudLogin = async (registry, o) => {
      calls.push({ registry, env: o.env });
      return { kind: "basic", username: "AWS", password: `tok${calls.length}`, ...(ttlMs ? { expiresAt: clock() + ttlMs } : {}) };
    };
    return { calls, load: async () => login };
  };

  test("a cloud host with nothing configured gets its provider's login, with the caller's environment", async () => {
    const c = counting();
    const kc = new Keychain({ cloudEnv: { AWS_REGION: "x" }, cloudLogins: { ecr: c.load } });
    expect(await kc.resolve(`${ECR}:5000`)).toEqual({ kind: "basic", username: "AWS", password: "tok1" });
    expect(c.calls).toEqual([{ registry: `${ECR}:5000`, env: { AWS_REGION: "x" } }]);
    expect(await kc.resolve("registry.example.com")).toBeUndefined();
    expect(c.calls.length).toBe(1);
  });

  test("config.json auths and environment credentials win over the cloud login", async () => {
    const c = counting();
    const dir = configDir({ auths: { [ECR]: { username: "u", password: "p" } } });
    expect(await new Keychain({ dockerConfigDir: dir, cloudLogins: { ecr: c.load } }).resolve(ECR)).toMatchObject({ username: "u" });
    expect(await new Keychain({ env: { [ECR]: { username: "e", password: "p" } }, cloudLogins: { ecr: c.load } }).resolve(ECR)).toMatchObject({ username: "e" });
    expect(c.calls.length).toBe(0);
  });

  test("credHelpers naming ecr-login / gcr / gcloud / acr-env use the built-in provider when no binary is on PATH", async () => {
    const ecr = counting(), gcr = counting(), acr = counting();
    const dir = configDir({ credHelpers: { [ECR]: "ecr-login", "public.ecr.aws": "ecr-login", "gcr.io": "gcloud", "eu.gcr.io": "gcr", "mine.azurecr.io": "acr-env" } });
    const kc = new Keychain({ dockerConfigDir: dir, helperPath: "/nonexistent", cloudLogins: { ecr: ecr.load, "ecr-public": ecr.load, gcr: gcr.load, acr: acr.load } });
    for (const r of [ECR, "public.ecr.aws", "gcr.io", "eu.gcr.io", "mine.azurecr.io"]) expect(await kc.resolve(r)).toBeDefined();
    expect([ecr.calls.length, gcr.calls.length, acr.calls.length]).toEqual([2, 2, 1]);
  });

  test("a credsStore of ecr-login serves a registry whose name is not an ECR host (the helper decides, as docker does)", async () => {
    const c = counting();
    const kc = new Keychain({ dockerConfigDir: configDir({ credsStore: "ecr-login" }), helperPath: "/nonexistent", cloudLogins: { ecr: c.load } });
    await kc.resolve("registry.example.com");
    expect(c.calls.map((x) => x.registry)).toEqual(["registry.example.com"]);
  });

  test("a docker-credential-ecr-login binary on PATH is run instead of the built-in provider", async () => {
    const c = counting();
    const bin = mkdtempSync(join(tmpdir(), "kiln-cloud-bin-"));
    dirs.push(bin);
    writeFileSync(join(bin, "docker-credential-ecr-login"), `#!/bin/sh\necho '{"Username":"AWS","Secret":"from-binary"}'\n`);
    chmodSync(join(bin, "docker-credential-ecr-login"), 0o755);
    const kc = new Keychain({ dockerConfigDir: configDir({ credHelpers: { [ECR]: "ecr-login" } }), helperPath: bin, cloudLogins: { ecr: c.load } });
    expect(await kc.resolve(ECR)).toMatchObject({ password: "from-binary" });
    expect(c.calls.length).toBe(0);
  });

  test("a cloud token is reused until shortly before it expires, then fetched again", async () => {
    let now = 1_000_000;
    const c = counting(60 * 60_000, () => now);
    const kc = new Keychain({ cloudLogins: { ecr: c.load }, now: () => now });
    expect(await kc.resolve(ECR)).toMatchObject({ password: "tok1" });
    now += 50 * 60_000;
    expect(await kc.resolve(ECR)).toMatchObject({ password: "tok1" });
    now += 6 * 60_000; // 4 minutes left: inside the margin
    expect(await kc.resolve(ECR)).toMatchObject({ password: "tok2" });
    expect(c.calls.length).toBe(2);
  });
});
