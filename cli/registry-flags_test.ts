// The registry flags and environment variables as parseExecutorArgs turns them into BuildOptions.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlagError, parseExecutorArgs } from "./flags.ts";

const parseAll = (argv: string[], env: Record<string, string> = {}) => parseExecutorArgs(["--no-push", ...argv], env, "/").options;
const parse = (argv: string[], env: Record<string, string> = {}) => parseAll(argv, env).registry!;

test("--registry-map entries, ';' lists and KANIKO_REGISTRY_MAP keep their order; mirrors go to Docker Hub", () => {
  const r = parse(
    ["--registry-map", "gcr.io=m1.example.com;m2.example.com/gcr", "--registry-map", "quay.io=m3:5000", "--registry-mirror", "hub1.example.com"],
    { KANIKO_REGISTRY_MAP: "gcr.io=m4;quay.io=m5", KANIKO_REGISTRY_MIRROR: "hub2.example.com;hub3.example.com" },
  );
  expect(r.registryMap).toEqual({
    "gcr.io": ["m1.example.com", "m2.example.com/gcr", "m4"],
    "quay.io": ["m3:5000", "m5"],
    "index.docker.io": ["hub1.example.com", "hub2.example.com", "hub3.example.com"],
  });
});

test("--registry-client-cert is REGISTRY=CERT,KEY", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-certs-"));
  try {
    const [c, k] = [join(dir, "c.pem"), join(dir, "k.pem")];
    writeFileSync(c, "cert");
    writeFileSync(k, "key");
    expect(parse(["--registry-client-cert", `reg:5000=${c},${k}`]).clientCerts).toEqual({ "reg:5000": { cert: c, key: k } });
    expect(() => parse(["--registry-client-cert", `reg=${c}`])).toThrow(FlagError);
    expect(() => parse(["--registry-map", "gcr.io"])).toThrow(/REGISTRY=MIRROR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("certificate files that do not exist, or are directories, are refused before the build", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-certs-"));
  try {
    writeFileSync(join(dir, "ca.pem"), "ca");
    expect(parse(["--registry-certificate", `reg=${join(dir, "ca.pem")}`]).certificates).toEqual({ reg: join(dir, "ca.pem") });
    expect(() => parse(["--registry-certificate", "reg=/missing.pem"])).toThrow('--registry-certificate "reg=/missing.pem": /missing.pem does not exist');
    expect(() => parse(["--registry-certificate", `reg=${dir}`])).toThrow(/is not a file/);
    expect(() => parse(["--registry-client-cert", `reg=${join(dir, "ca.pem")},/missing.key`])).toThrow(/--registry-client-cert .*\/missing.key does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("booleans, split retries and environment credentials", () => {
  const o = parseAll(
    ["--skip-default-registry-fallback", "--push-ignore-immutable-tag-errors", "--skip-push-permission-check=true", "--push-retry", "4", "--image-download-retry=2"],
    { CI_REGISTRY: "registry.gitlab.com", CI_REGISTRY_USER: "gitlab-ci-token", CI_REGISTRY_PASSWORD: "t" },
  );
  expect(o.skipPushPermissionCheck).toBe(true);
  // The registry client's own names: the options pass to it as they are.
  expect(o.registry).toMatchObject({ skipDefaultRegistryFallback: true, ignoreImmutableTagErrors: true, pushRetries: 4, pullRetries: 2 });
  expect(o.registry!.envCredentials).toEqual({ "registry.gitlab.com": { username: "gitlab-ci-token", password: "t" } });
  const d = parseAll([]);
  expect(d.skipPushPermissionCheck).toBe(false);
  expect(d.registry).toMatchObject({ skipDefaultRegistryFallback: false, ignoreImmutableTagErrors: false, registryMap: {} });
});

test("the registry flags no longer warn that they do nothing", () => {
  const { warnings } = parseExecutorArgs(["--no-push", "--registry-mirror", "m", "--skip-push-permission-check", "--push-ignore-immutable-tag-errors"], {}, "/");
  expect(warnings).toEqual([]);
});
