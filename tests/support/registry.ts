// Runs the real CNCF distribution registry (Debian's docker-registry) for tests, bound to 127.0.0.1 only,
// with its own config and storage in a temp dir. The package's default config is never used: it listens
// on all interfaces and enables htpasswd auth.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** http(s)://host */
  url: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caFile?: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: "htpasswd";
  tls?: boolean;
}

export class TestRegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TestRegistryError";
  }
}

const REGISTRY_BIN = "/usr/bin/docker-registry";

/** Asks the kernel for a free port. Another process may take it before the registry binds; startRegistry retries. */
function freePort(): number {
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

/** A throwaway CA and a server certificate for IP 127.0.0.1 signed by it. */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, "ca.pem"), caKey = join(dir, "ca-key.pem");
  const cert = join(dir, "server.pem"), key = join(dir, "server-key.pem"), csr = join(dir, "server.csr");
  const ext = join(dir, "san.ext");
  await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca,
    "-days", "2", "-subj", "/CN=kiln test CA"], dir);
  await run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"], dir);
  await writeFile(ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  await run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert,
    "-days", "2", "-extfile", ext], dir);
  return { ca, cert, key };
}

function configYaml(o: { port: number; storage: string; htpasswd?: string; tls?: { cert: string; key: string } }): string {
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
  if (o.htpasswd) lines.push("auth:", "  htpasswd:", "    realm: kiln-test", `    path: ${JSON.stringify(o.htpasswd)}`);
  return lines.join("\n") + "\n";
}

async function waitReady(url: string, proc: Bun.Subprocess, caPem: string | undefined, logs: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new TestRegistryError(`docker-registry exited with ${proc.exitCode}: ${logs()}`);
    try {
      const res = await fetch(`${url}/v2/`, caPem ? { tls: { ca: caPem } } : {});
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
  try {
    const dataDir = join(dir, "data");
    let username: string | undefined, password: string | undefined, htpasswd: string | undefined;
    if (opts.auth === "htpasswd") {
      username = "kiln";
      password = `pw-${crypto.randomUUID().slice(0, 8)}`;
      htpasswd = join(dir, "htpasswd");
      // distribution only accepts bcrypt entries; Bun emits $2b$, which Go's bcrypt reads.
      await writeFile(htpasswd, `${username}:${await Bun.password.hash(password, { algorithm: "bcrypt", cost: 4 })}\n`);
    }
    const certs = opts.tls ? await makeCerts(dir) : undefined;
    const caPem = certs ? await Bun.file(certs.ca).text() : undefined;
    const scheme = opts.tls ? "https" : "http";

    for (let attempt = 0; ; attempt++) {
      const port = freePort();
      const configPath = join(dir, "config.yml");
      await writeFile(configPath, configYaml({ port, storage: dataDir, htpasswd, tls: certs }));
      const proc = Bun.spawn([REGISTRY_BIN, "serve", configPath], { cwd: dir, stdout: "ignore", stderr: "pipe" });
      let stderr = "";
      void (async () => {
        const dec = new TextDecoder();
        for await (const chunk of proc.stderr) stderr += dec.decode(chunk);
      })().catch(() => {});
      const host = `127.0.0.1:${port}`;
      const url = `${scheme}://${host}`;
      try {
        await waitReady(url, proc, caPem, () => stderr.slice(-2000));
      } catch (e) {
        proc.kill();
        await proc.exited;
        // A lost race for the port shows as "address already in use": try another one.
        if (attempt < 3 && /address already in use/.test(stderr)) continue;
        throw e;
      }
      let stopped = false;
      return {
        host, url, username, password, caFile: certs?.ca, dataDir,
        async stop() {
          if (stopped) return;
          stopped = true;
          proc.kill();
          await proc.exited;
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
