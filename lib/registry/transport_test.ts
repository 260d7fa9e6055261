// Mutual TLS, mirrors / registry-map with fallback, the push permission check and credentials from the environment,
// against real registries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, silentLogger } from "../log/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { credentialsFromEnv, RegistryClient, RegistryError } from "./mod.ts";
import { tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

const amd64 = { os: "linux", architecture: "amd64" };

describe("mutual TLS", () => {
  let reg: TestRegistry;
  let img: TinyImage;
  beforeAll(async () => {
    reg = await startRegistry({ mtls: true });
    img = await tinyImage();
  });
  afterAll(async () => {
    await reg?.stop();
    await img?.cleanup();
  });

  test("with the client certificate a push and pull work", async () => {
    const c = new RegistryClient({
      logger: silentLogger, certificates: { [reg.host]: reg.caFile! },
      clientCerts: { [reg.host]: { cert: reg.clientCert!, key: reg.clientKey! } },
    });
    const { digest } = await c.push(img.image, [`${reg.host}/mtls/app:1`]);
    expect((await c.pull(`${reg.host}/mtls/app:1`, amd64)).digest).toBe(digest);
  });

  test("without it the registry refuses the connection", async () => {
    const c = new RegistryClient({ logger: silentLogger, certificates: { [reg.host]: reg.caFile! } });
    const err = await c.pull(`${reg.host}/mtls/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain(`--registry-client-cert ${reg.host}=`);
  });

  test("a missing key file is named with the flag", async () => {
    const c = new RegistryClient({ logger: silentLogger, clientCerts: { [reg.host]: { cert: reg.clientCert!, key: "/nonexistent/key.pem" } } });
    const err = await c.pull(`${reg.host}/mtls/app:1`, amd64).catch((e) => e);
    expect(err.message).toContain("/nonexistent/key.pem");
    expect(err.message).toContain("--registry-client-cert");
  });
});

describe("mirrors and registry-map", () => {
  let origin: TestRegistry, mirrorA: TestRegistry, mirrorB: TestRegistry;
  let onlyOrigin: TinyImage, onMirror: TinyImage;
  const quiet = { logger: silentLogger };
  beforeAll(async () => {
    [origin, mirrorA, mirrorB] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    onlyOrigin = await tinyImage({ files: [{ "where.txt": "origin\n" }] });
    onMirror = await tinyImage({ files: [{ "where.txt": "mirror\n" }] });
    const c = new RegistryClient({ ...quiet, insecureRegistries: [origin.host, mirrorA.host, mirrorB.host] });
    await c.push(onlyOrigin.image, [`${origin.host}/team/app:1`]);
    // The second mirror serves the image under a path prefix, as a pull-through cache often does.
    await c.push(onMirror.image, [`${origin.host}/team/app:2`, `${mirrorB.host}/cache/team/app:2`]);
  });
  afterAll(async () => {
    await Promise.all([origin?.stop(), mirrorA?.stop(), mirrorB?.stop(), onlyOrigin?.cleanup(), onMirror?.cleanup()]);
  });

  function client(extra: Partial<ConstructorParameters<typeof RegistryClient>[0]>) {
    const lines: string[] = [];
    const c = new RegistryClient({
      logger: createLogger({ level: "info", format: "text", write: (l) => lines.push(l) }),
      insecureRegistries: [origin.host, mirrorA.host, mirrorB.host], ...extra,
    });
    return { c, lines };
  }

  test("mirrors are tried in order; the first that has the image serves it, layers and all", async () => {
    const { c, lines } = client({ registryMap: { [origin.host]: [mirrorA.host, `${mirrorB.host}/cache`] } });
    const pulled = await c.pull(`${origin.host}/team/app:2`, amd64);
    expect(pulled.image.layers[0].origin).toEqual({ registry: mirrorB.host, repository: "cache/team/app" });
    expect(lines.some((l) => l.includes(`mirror ${mirrorA.host} failed`))).toBe(true);
    expect(lines.some((l) => l.includes(`from mirror ${mirrorB.host}/cache`))).toBe(true);
  });

  test("when no mirror has it the registry itself is used", async () => {
    const { c } = client({ registryMap: { [origin.host]: [mirrorA.host, `${mirrorB.host}/cache`] } });
    const pulled = await c.pull(`${origin.host}/team/app:1`, amd64);
    expect(pulled.image.layers[0].origin?.registry).toBe(origin.host);
  });

  test("skipDefaultRegistryFallback fails instead, naming every mirror tried", async () => {
    const { c } = client({ registryMap: { [origin.host]: [mirrorA.host, `${mirrorB.host}/cache`] }, skipDefaultRegistryFallback: true });
    const err = await c.pull(`${origin.host}/team/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe("MIRRORS_FAILED");
    expect(err.message).toContain(mirrorA.host);
    expect(err.message).toContain(`${mirrorB.host}/cache`);
    expect(err.message).toContain("--skip-default-registry-fallback");
  });

  test("a Docker Hub mirror serves library images under any Hub alias key", async () => {
    const c = new RegistryClient({ ...quiet, insecureRegistries: [mirrorB.host], registryMap: { "docker.io": [`${mirrorB.host}/hub`] }, skipDefaultRegistryFallback: true });
    await c.push(onMirror.image, [`${mirrorB.host}/hub/library/busybox:1`]);
    const pulled = await c.pull("busybox:1", amd64);
    expect(pulled.image.layers[0].origin).toEqual({ registry: mirrorB.host, repository: "hub/library/busybox" });
  });

  test("an unreachable mirror is skipped", async () => {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const dead = `127.0.0.1:${s.port}`;
    s.stop(true);
    const { c } = client({ registryMap: { [origin.host]: [dead] }, insecureRegistries: [origin.host, dead] });
    expect((await c.pull(`${origin.host}/team/app:1`, amd64)).image.layers).toHaveLength(1);
  });
});

describe("push permission check and environment credentials", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("without credentials the check fails with 401 and names the flag to skip it; no upload is left behind", async () => {
    const c = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
    const err = await c.checkPushPermission([`${reg.host}/perm/app:1`]).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(401);
    expect(err.message).toContain(`no permission to push to ${reg.host}/perm/app`);
    expect(err.message).toContain("--skip-push-permission-check");
  });

  test("GitLab CI variables authenticate the check and a push", async () => {
    const env = credentialsFromEnv({ CI_REGISTRY: reg.host, CI_REGISTRY_USER: reg.username, CI_REGISTRY_PASSWORD: reg.password });
    const c = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host], envCredentials: env });
    await c.checkPushPermission([`${reg.host}/perm/app:1`, `${reg.host}/perm/app:2`]);
    const img = await tinyImage();
    try {
      await c.push(img.image, [`${reg.host}/perm/app:1`]);
    } finally {
      await img.cleanup();
    }
    // The cancelled check left no upload in the registry's storage.
    const uploads = Bun.spawnSync(["find", reg.dataDir, "-path", "*_uploads/*", "-name", "data"]).stdout.toString().trim();
    expect(uploads).toBe("");
  });

  test("DOCKER_<host>_USR/_PSW variables authenticate, with a wrong password reported", async () => {
    const name = `DOCKER_${reg.host.replace(/\./g, "_").replace(":", "_")}`;
    const good = credentialsFromEnv({ [`${name}_USR`]: reg.username, [`${name}_PSW`]: reg.password });
    expect(Object.keys(good)).toEqual([reg.host]);
    await new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host], envCredentials: good }).checkPushPermission([`${reg.host}/perm/env:1`]);
    const bad = credentialsFromEnv({ [`${name}_USR`]: reg.username, [`${name}_PSW`]: "wrong" });
    const err = await new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host], envCredentials: bad })
      .checkPushPermission([`${reg.host}/perm/env:1`]).catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.message).toContain("from the environment");
  });
});

test("env credential names decode hosts, ports and dashes", () => {
  expect(credentialsFromEnv({
    DOCKER_ghcr_io_USR: "u1", DOCKER_ghcr_io_PSW: "p1",
    DOCKER_MY__REG_EXAMPLE_COM_5000_USR: "u2", DOCKER_MY__REG_EXAMPLE_COM_5000_PSW: "p2",
    DOCKER_lonely_io_USR: "no password",
    CI_REGISTRY: "registry.gitlab.example.com", CI_REGISTRY_USER: "gitlab-ci-token", CI_REGISTRY_PASSWORD: "job-token",
  })).toEqual({
    "ghcr.io": { username: "u1", password: "p1" },
    "my-reg.example.com:5000": { username: "u2", password: "p2" },
    "registry.gitlab.example.com": { username: "gitlab-ci-token", password: "job-token" },
  });
});
