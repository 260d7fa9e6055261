// Runs the real CNCF distribution registry (Debian's docker-registry) for tests, bound to 127.0.0.1 only,
// with its own config and storage in a temp dir. The package's default config is never used: it listens
// on all interfaces and enables htpasswd auth.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSign, X509Certificate } from "node:crypto";

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** http(s)://host */
  url: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caFile?: string;
  /** mtls only: a client certificate and key the registry accepts */
  clientCert?: string;
  clientKey?: string;
  dataDir: string;
  /** auth "token" only: every request the token server answered, in order. */
  tokenRequests?: { scopes: string[]; account?: string; method: string; granted: boolean }[];
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** htpasswd: Basic auth. token: Bearer tokens from a token server run in this process (JWTs signed by a test CA). */
  auth?: "htpasswd" | "token";
  tls?: boolean;
  /** TLS that also requires a client certificate signed by the test CA (mutual TLS); implies tls */
  mtls?: boolean;
  /** extra DNS names the server certificate carries (a cloud host name mapped to 127.0.0.1); implies tls */
  dnsNames?: string[];
  /** the htpasswd / token user (default "kiln"); ECR's tokens are for "AWS" */
  username?: string;
}

export class TestRegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TestRegistryError";
  }
}

const REGISTRY_BIN = "/usr/bin/docker-registry";

/**
 * Asks the kernel for a free port on 127.0.0.1, closed again: nothing listens on it, so connecting is refused
 * (a dead registry address for tests). Another process may take it meanwhile; startRegistry retries.
 */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function run(cmd: string[], cwd: string): Promise<void> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new TestRegistryError(`${cmd[0]} failed (exit ${code}): ${err.trim()}`);
}

/** A throwaway CA and a server certificate for IP 127.0.0.1 (and dnsNames) signed by it. */
export async function makeCerts(dir: string, dnsNames: string[] = []): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, "ca.pem"), caKey = join(dir, "ca-key.pem");
  const cert = join(dir, "server.pem"), key = join(dir, "server-key.pem"), csr = join(dir, "server.csr");
  const ext = join(dir, "san.ext");
  await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca,
    "-days", "2", "-subj", "/CN=kiln test CA"], dir);
  await run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"], dir);
  await writeFile(ext, `subjectAltName=${["IP:127.0.0.1", ...dnsNames.map((n) => `DNS:${n}`)].join(",")}\n`
    + "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  await run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert,
    "-days", "2", "-extfile", ext], dir);
  return { ca, cert, key };
}

/** A client certificate signed by the test CA, for mutual TLS. */
async function makeClientCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "client.pem"), key = join(dir, "client-key.pem"), csr = join(dir, "client.csr"), ext = join(dir, "client.ext");
  await run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=kiln test client"], dir);
  await writeFile(ext, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  await run(["openssl", "x509", "-req", "-in", csr, "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca-key.pem"), "-CAcreateserial",
    "-out", cert, "-days", "2", "-extfile", ext], dir);
  return { cert, key };
}

interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  requests: NonNullable<TestRegistry["tokenRequests"]>;
  stop(): void;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/**
 * A minimal docker token server: checks Basic credentials (or an OAuth2 refresh token equal to the password)
 * and returns a JWT granting the requested scopes, signed with a key whose certificate the registry trusts.
 */
async function startTokenServer(dir: string, username: string, password: string): Promise<TokenServer> {
  const key = join(dir, "token-key.pem"), certFile = join(dir, "token-cert.pem");
  await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certFile,
    "-days", "2", "-subj", "/CN=kiln test token issuer"], dir);
  const keyPem = await Bun.file(key).text();
  const der = new X509Certificate(await Bun.file(certFile).text()).raw;
  const service = "kiln-test-registry", issuer = "kiln-test-issuer";
  const requests: TokenServer["requests"] = [];
  const grant = (scopes: string[]) => scopes.map((s) => {
    const [type, ...rest] = s.split(":");
    const actions = rest.pop() ?? "";
    return { type, name: rest.join(":"), actions: actions.split(",") };
  });
  const sign = (scopes: string[], sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [der.toString("base64")] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub, aud: service, iat: now, nbf: now - 10, exp: now + 300, jti: crypto.randomUUID(), access: grant(scopes) }));
    const sig = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(keyPem);
    return `${header}.${claims}.${b64url(sig)}`;
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
      let account: string | undefined;
      let ok = false;
      if (req.method === "POST") {
        const form = new URLSearchParams(await req.text());
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
        ok = form.get("grant_type") === "refresh_token" && form.get("refresh_token") === password;
        account = username;
      } else {
        const auth = req.headers.get("authorization");
        if (auth?.startsWith("Basic ")) {
          const [u, ...p] = Buffer.from(auth.slice(6), "base64").toString().split(":");
          account = u;
          ok = u === username && p.join(":") === password;
        }
      }
      requests.push({ scopes, account, method: req.method, granted: ok });
      if (!ok) return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }, { status: 401 });
      const token = sign(scopes, account ?? "");
      return Response.json(req.method === "POST" ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 });
    },
  });
  return { realm: `http://127.0.0.1:${server.port}/token`, service, issuer, certFile, requests, stop: () => server.stop(true) };
}

function configYaml(o: { port: number; storage: string; htpasswd?: string; tls?: { cert: string; key: string; clientCa?: string }; token?: TokenServer }): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(o.storage)}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${o.port}`,
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
  ];
  if (o.tls) lines.push("  tls:", `    certificate: ${JSON.stringify(o.tls.cert)}`, `    key: ${JSON.stringify(o.tls.key)}`);
  if (o.tls?.clientCa) lines.push("    clientcas:", `      - ${JSON.stringify(o.tls.clientCa)}`);
  if (o.htpasswd) lines.push("auth:", "  htpasswd:", "    realm: kiln-test", `    path: ${JSON.stringify(o.htpasswd)}`);
  if (o.token) {
    lines.push("auth:", "  token:", `    realm: ${JSON.stringify(o.token.realm)}`, `    service: ${o.token.service}`,
      `    issuer: ${o.token.issuer}`, `    rootcertbundle: ${JSON.stringify(o.token.certFile)}`);
  }
  return lines.join("\n") + "\n";
}

async function waitReady(url: string, proc: Bun.Subprocess, caPem: string | undefined, client: { cert: string; key: string } | undefined, logs: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const tls = caPem ? { ca: caPem, ...(client ? { cert: await Bun.file(client.cert).text(), key: await Bun.file(client.key).text() } : {}) } : undefined;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new TestRegistryError(`docker-registry exited with ${proc.exitCode}: ${logs()}`);
    try {
      const res = await fetch(`${url}/v2/`, tls ? { tls } : {});
      // 401 counts as up: the auth variant answers /v2/ with a challenge.
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(30);
  }
  throw new TestRegistryError(`docker-registry did not answer ${url}/v2/ within 10s: ${logs()}`);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-registry-"));
  let token: TokenServer | undefined;
  try {
    const dataDir = join(dir, "data");
    let username: string | undefined, password: string | undefined, htpasswd: string | undefined;
    if (opts.auth === "htpasswd") {
      username = opts.username ?? "kiln";
      password = `pw-${crypto.randomUUID().slice(0, 8)}`;
      htpasswd = join(dir, "htpasswd");
      // distribution only accepts bcrypt entries; Bun emits $2b$, which Go's bcrypt reads.
      await writeFile(htpasswd, `${username}:${await Bun.password.hash(password, { algorithm: "bcrypt", cost: 4 })}\n`);
    }
    if (opts.auth === "token") {
      username = opts.username ?? "kiln";
      password = `pw-${crypto.randomUUID().slice(0, 8)}`;
      token = await startTokenServer(dir, username, password);
    }
    const tls = opts.tls || opts.mtls || !!opts.dnsNames?.length;
    const certs = tls ? await makeCerts(dir, opts.dnsNames) : undefined;
    const client = opts.mtls ? await makeClientCert(dir) : undefined;
    const caPem = certs ? await Bun.file(certs.ca).text() : undefined;
    const scheme = tls ? "https" : "http";

    for (let attempt = 0; ; attempt++) {
      const port = freePort();
      const configPath = join(dir, "config.yml");
      await writeFile(configPath, configYaml({ port, storage: dataDir, htpasswd, tls: certs && { ...certs, clientCa: client && certs.ca }, token }));
      const proc = Bun.spawn([REGISTRY_BIN, "serve", configPath], { cwd: dir, stdout: "ignore", stderr: "pipe" });
      let stderr = "";
      void (async () => {
        const dec = new TextDecoder();
        for await (const chunk of proc.stderr) stderr += dec.decode(chunk);
      })().catch(() => {});
      const host = `127.0.0.1:${port}`;
      const url = `${scheme}://${host}`;
      try {
        await waitReady(url, proc, caPem, client, () => stderr.slice(-2000));
      } catch (e) {
        proc.kill();
        await proc.exited;
        // A lost race for the port shows as "address already in use": try another one.
        if (attempt < 3 && /address already in use/.test(stderr)) continue;
        throw e;
      }
      let stopped = false;
      return {
        host, url, username, password, caFile: certs?.ca, dataDir, clientCert: client?.cert, clientKey: client?.key,
        ...(token ? { tokenRequests: token.requests } : {}),
        async stop() {
          if (stopped) return;
          stopped = true;
          proc.kill();
          await proc.exited;
          token?.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (e) {
    token?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The Accept header for a single-platform image manifest, OCI or Docker schema 2. */
export const MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/**
 * The manifest of `repo:tag` in the plain-HTTP registry at `host` ("127.0.0.1:PORT"), asked of the registry itself
 * (not through kiln), parsed; undefined when the registry answers 404. Any other failure throws.
 */
export async function manifestOf(host: string, repo: string, tag: string): Promise<any> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST_ACCEPT } });
  if (r.status === 404) { await r.body?.cancel(); return undefined; }
  if (!r.ok) throw new TestRegistryError(`manifest ${host}/${repo}:${tag}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** The digest the registry at `host` gives `repo:tag`'s manifest (its Docker-Content-Digest); throws unless 200. */
export async function manifestDigestOf(host: string, repo: string, tag: string): Promise<string> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: { Accept: MANIFEST_ACCEPT } });
  const digest = r.headers.get("docker-content-digest");
  if (r.status !== 200 || !digest) throw new TestRegistryError(`manifest ${host}/${repo}:${tag}: HTTP ${r.status}, digest ${digest}`);
  return digest;
}
