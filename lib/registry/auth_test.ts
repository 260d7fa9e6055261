import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { RegistryClient, RegistryError } from "./mod.ts";
import { tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

const amd64 = { os: "linux", architecture: "amd64" };

describe("htpasswd registry", () => {
  let reg: TestRegistry;
  let img: TinyImage;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
    img = await tinyImage();
    dir = await mkdtemp(join(tmpdir(), "kiln-dockercfg-"));
  });
  afterAll(async () => {
    await reg?.stop();
    await img?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function configDir(name: string, config: unknown): Promise<string> {
    const d = join(dir, name);
    await Bun.write(join(d, "config.json"), JSON.stringify(config));
    return d;
  }
  const client = (dockerConfigDir?: string, credentialHelperPath?: string) =>
    new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host], dockerConfigDir, credentialHelperPath });

  test("without credentials a push fails with a clear 401", async () => {
    const err = await client().push(img.image, [`${reg.host}/secure/app:1`]).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(401);
    expect(err.message).toStartWith(`401 unauthorized at ${reg.host} for repo secure/app`);
    expect(err.message).toContain("check credentials");
  });

  test("base64 auth from config.json pushes; skopeo sees the image with the same credentials", async () => {
    const d = await configDir("b64", { auths: { [reg.host]: { auth: btoa(`${reg.username}:${reg.password}`) } } });
    const { digest } = await client(d).push(img.image, [`${reg.host}/secure/app:1`]);
    const p = Bun.spawn(["skopeo", "inspect", "--tls-verify=false", "--creds", `${reg.username}:${reg.password}`, `docker://${reg.host}/secure/app:1`], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    expect(JSON.parse(out).Digest).toBe(digest);
  });

  test("username/password under an https:// key pulls", async () => {
    const d = await configDir("userpass", { auths: { [`https://${reg.host}/v2/`]: { username: reg.username, password: reg.password } } });
    const pulled = await client(d).pull(`${reg.host}/secure/app:1`, amd64);
    expect(pulled.image.layers).toHaveLength(2);
  });

  test("a wrong password is a 401 that names the config file", async () => {
    const d = await configDir("wrong", { auths: { [reg.host]: { username: reg.username, password: "wrong" } } });
    const err = await client(d).pull(`${reg.host}/secure/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(401);
    expect(err.message).toContain(join(d, "config.json"));
  });

  test("credHelpers runs docker-credential-<name> get with the server URL on stdin", async () => {
    const bin = join(dir, "bin");
    const seen = join(dir, "helper-stdin");
    const script = `#!/bin/sh\n[ "$1" = get ] || exit 1\ncat > ${seen}\necho '{"ServerURL":"${reg.host}","Username":"${reg.username}","Secret":"${reg.password}"}'\n`;
    await Bun.write(join(bin, "docker-credential-kilntest"), script);
    await chmod(join(bin, "docker-credential-kilntest"), 0o755);
    const d = await configDir("helper", { credHelpers: { [reg.host]: "kilntest" }, auths: { [reg.host]: { auth: btoa("nobody:wrong") } } });
    const pulled = await client(d, bin).pull(`${reg.host}/secure/app:1`, amd64);
    expect(pulled.image.layers).toHaveLength(2);
    expect(await Bun.file(seen).text()).toBe(reg.host);

    // credsStore applies to every registry; a helper missing from PATH falls back to auths.
    const store = await configDir("store", { credsStore: "kilntest" });
    expect((await client(store, bin).pull(`${reg.host}/secure/app:1`, amd64)).image.layers).toHaveLength(2);
    const missing = await configDir("missing", { credsStore: "absent", auths: { [reg.host]: { username: reg.username, password: reg.password } } });
    expect((await client(missing, bin).pull(`${reg.host}/secure/app:1`, amd64)).image.layers).toHaveLength(2);
  });

  test("a broken auth entry is reported with the file and registry", async () => {
    const d = await configDir("broken", { auths: { [reg.host]: { auth: btoa("no-colon") } } });
    const err = await client(d).pull(`${reg.host}/secure/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain(reg.host);
    expect(err.message).toContain(join(d, "config.json"));
  });
});

describe("TLS registry", () => {
  let reg: TestRegistry;
  let img: TinyImage;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    img = await tinyImage();
  });
  afterAll(async () => {
    await reg?.stop();
    await img?.cleanup();
  });

  test("pushes and pulls with the CA from certificates", async () => {
    const c = new RegistryClient({ logger: silentLogger, certificates: { [reg.host]: reg.caFile! } });
    const { digest } = await c.push(img.image, [`${reg.host}/tls/app:1`]);
    const pulled = await c.pull(`${reg.host}/tls/app:1`, amd64);
    expect(pulled.digest).toBe(digest);
  });

  test("without the CA verification fails with advice; skip-tls-verify for that registry works", async () => {
    const err = await new RegistryClient({ logger: silentLogger }).pull(`${reg.host}/tls/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain(`TLS verification failed for registry ${reg.host}`);
    expect(err.message).toContain("--registry-certificate");
    const skip = new RegistryClient({ logger: silentLogger, skipTlsVerifyRegistries: [reg.host] });
    expect((await skip.pull(`${reg.host}/tls/app:1`, amd64)).image.layers).toHaveLength(2);
  });

  test("extra CA files (the executor image's /kaniko/ssl/certs, SSL_CERT_DIR) are trusted for every registry", async () => {
    const c = new RegistryClient({ logger: silentLogger, caFiles: [reg.caFile!] });
    expect((await c.pull(`${reg.host}/tls/app:1`, amd64)).image.layers).toHaveLength(2);
  });

  test("a missing certificate file is named in the error", async () => {
    const c = new RegistryClient({ logger: silentLogger, certificates: { [reg.host]: "/nonexistent/ca.pem" } });
    const err = await c.pull(`${reg.host}/tls/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain("/nonexistent/ca.pem");
  });
});
