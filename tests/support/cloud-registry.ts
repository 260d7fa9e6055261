// A real registry (tests/support/registry.ts) reached under a cloud registry's host name, and loopback stand-ins for
// the token endpoints the cloud SDKs call. The name resolves to 127.0.0.1 only inside a private mount namespace
// (`unshare --mount`) in which a test hosts file is bind-mounted over /etc/hosts: Bun's fetch resolves through
// /etc/hosts (nsswitch "files"), so kiln runs unchanged, with no test-only code, and the host's /etc/hosts is never
// touched. The registry's certificate carries the name; kiln trusts its CA through --registry-certificate.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, type KilnRun } from "./kiln.ts";
import { makeCerts, startRegistry, type StartRegistryOptions, type TestRegistry } from "./registry.ts";

export interface CloudRegistry {
  registry: TestRegistry;
  /** "<cloud host>:<port>": what a test pushes to */
  name: string;
  /** "--registry-certificate" value for that name */
  certificateFlag: string;
  stop(): Promise<void>;
}

/** The real registry on 127.0.0.1 with TLS for `hostname` (e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com"). */
export async function startCloudRegistry(hostname: string, opts: Omit<StartRegistryOptions, "dnsNames" | "tls" | "mtls"> = {}): Promise<CloudRegistry> {
  const registry = await startRegistry({ ...opts, dnsNames: [hostname] });
  const name = `${hostname}:${registry.host.split(":")[1]}`;
  return { registry, name, certificateFlag: `--registry-certificate=${name}=${registry.caFile}`, stop: () => registry.stop() };
}

/** A file in /etc/hosts syntax mapping each name to 127.0.0.1; remove its directory (dirname) when done. */
export function hostsFile(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-hosts-"));
  const file = join(dir, "hosts");
  writeFileSync(file, ["127.0.0.1 localhost", ...names.map((n) => `127.0.0.1 ${n.replace(/:\d+$/, "")}`)].join("\n") + "\n");
  return file;
}

/**
 * Runs `cmd` in a new mount namespace with `hosts` over /etc/hosts (unshare's default propagation is private, so the
 * bind mount never reaches the host). The environment is exactly `env` plus PATH.
 */
export async function runWithHosts(hosts: string, cmd: string[], env: Record<string, string>, cwd?: string): Promise<KilnRun> {
  const p = Bun.spawn(["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, ...cmd], {
    cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** dist/kiln under runWithHosts. */
export async function runKilnWithHosts(hosts: string, args: string[], env: Record<string, string>, cwd?: string): Promise<KilnRun> {
  return runWithHosts(hosts, [await ensureBinary(), ...args], env, cwd);
}

/**
 * An environment with no AWS/Google/Azure identity of the machine's own: no ~/.aws, no instance metadata, so only
 * what a test sets is found. `home` must be an empty directory.
 */
export function isolatedCloudEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    AWS_CONFIG_FILE: join(home, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    // Google's library probes the metadata server when nothing else is configured; point it at a dead address.
    GCE_METADATA_HOST: "127.0.0.1:9",
    GCE_METADATA_IP: "127.0.0.1:9",
  };
}

export interface Front {
  /** "<hostname>:<port>" */
  name: string;
  certificateFlag: string;
  /** method and path of every request the front answered itself */
  handled: string[];
  stop(): Promise<void>;
}

/**
 * A TLS server for `hostname` on its own loopback port that answers what `route` returns and proxies everything
 * else to the real registry (e.g. ACR's POST /oauth2/exchange in front of a token-auth registry).
 */
export async function startFront(hostname: string, registry: TestRegistry, route: (req: Request) => Response | undefined | Promise<Response | undefined>): Promise<Front> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-front-"));
  const certs = await makeCerts(dir, [hostname]);
  const upstreamTls = registry.caFile ? { ca: await Bun.file(registry.caFile).text() } : undefined;
  const handled: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(certs.cert), key: Bun.file(certs.key) },
    async fetch(req) {
      const own = await route(req);
      const url = new URL(req.url);
      if (own) {
        handled.push(`${req.method} ${url.pathname}`);
        return own;
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`${registry.url}${url.pathname}${url.search}`, {
        method: req.method, headers, body: req.body, redirect: "manual", ...(upstreamTls ? { tls: upstreamTls } : {}),
      } as RequestInit);
      // Upload locations point at the registry's own address: rewrite them to the front's.
      const out = new Headers(res.headers);
      const loc = out.get("location");
      if (loc?.startsWith(registry.url)) out.set("location", loc.slice(registry.url.length));
      out.delete("content-encoding");
      return new Response(res.body, { status: res.status, headers: out });
    },
  });
  const name = `${hostname}:${server.port}`;
  return {
    name, certificateFlag: `--registry-certificate=${name}=${certs.ca}`, handled,
    async stop() {
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the STS stand-in issued for AssumeRoleWithWebIdentity. */
export interface AwsSession { accessKeyId: string; secretAccessKey: string; sessionToken: string }

export interface StsStandIn {
  /** AWS_ENDPOINT_URL_STS */
  url: string;
  /** the web identity token file (IRSA's projected service-account token) and role the stand-in accepts */
  tokenFile: string;
  roleArn: string;
  issued: AwsSession[];
  /** AssumeRoleWithWebIdentity calls, accepted or not */
  calls: number;
  /** the environment IRSA gives a pod */
  irsaEnv(): Record<string, string>;
  stop(): Promise<void>;
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** STS's AssumeRoleWithWebIdentity (query protocol, XML answer) for one role and one web identity token. */
export function startStsStandIn(): StsStandIn {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sts-"));
  const tokenFile = join(dir, "token");
  const webToken = `eyJ.irsa-${crypto.randomUUID()}`;
  writeFileSync(tokenFile, webToken);
  const roleArn = "arn:aws:iam::123456789012:role/kiln-builder";
  const issued: AwsSession[] = [];
  const state = { calls: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const form = new URLSearchParams(req.method === "POST" ? await req.text() : new URL(req.url).search);
      if (form.get("Action") !== "AssumeRoleWithWebIdentity") return stsError(400, "InvalidAction", `unexpected action ${form.get("Action")}`);
      state.calls++;
      if (form.get("RoleArn") !== roleArn || form.get("WebIdentityToken") !== webToken) {
        return stsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
      }
      const s: AwsSession = { accessKeyId: `ASIA${crypto.randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase()}`, secretAccessKey: crypto.randomUUID(), sessionToken: crypto.randomUUID() };
      issued.push(s);
      const exp = new Date(Date.now() + 3600_000).toISOString();
      return new Response(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>`
        + `<Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${s.secretAccessKey}</SecretAccessKey>`
        + `<SessionToken>${s.sessionToken}</SessionToken><Expiration>${exp}</Expiration></Credentials>`
        + `<AssumedRoleUser><Arn>${xml(roleArn)}/kiln</Arn><AssumedRoleId>AROA:kiln</AssumedRoleId></AssumedRoleUser>`
        + `<SubjectFromWebIdentityToken>system:serviceaccount:ci:kiln</SubjectFromWebIdentityToken>`
        + `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
      { headers: { "content-type": "text/xml" } });
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url, tokenFile, roleArn, issued,
    get calls() { return state.calls; },
    irsaEnv: () => ({ AWS_ROLE_ARN: roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ENDPOINT_URL_STS: url, AWS_REGION: "us-east-1" }),
    async stop() {
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stsError(status: number, code: string, message: string): Response {
  return new Response(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>`
    + `<Message>${xml(message)}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`, { status, headers: { "content-type": "text/xml" } });
}

export interface EcrStandIn {
  /** AWS_ENDPOINT_URL_ECR (and AWS_ENDPOINT_URL_ECR_PUBLIC: the stand-in answers both APIs) */
  url: string;
  /** GetAuthorizationToken calls, accepted or not, with the access key each was signed with */
  calls: { target: string; accessKeyId: string | undefined; region: string | undefined; granted: boolean }[];
  stop(): Promise<void>;
}

/**
 * ECR's (and ECR Public's) GetAuthorizationToken (JSON 1.1 protocol). It grants only requests SigV4-signed with an
 * access key in `accepted()` (what STS issued) carrying that session's token, and answers base64("AWS:<password>").
 */
export function startEcrStandIn(accepted: () => AwsSession[], password: string): EcrStandIn {
  const calls: EcrStandIn["calls"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.text();
      const target = req.headers.get("x-amz-target") ?? "";
      if (!target.endsWith(".GetAuthorizationToken")) return awsJsonError(400, "UnknownOperationException", `unexpected ${target}`);
      // SigV4: "Credential=<key>/<date>/<region>/<service>/aws4_request"
      const [, accessKeyId, region] = /Credential=([^/]+)\/[^/]+\/([^/]+)\//.exec(req.headers.get("authorization") ?? "") ?? [];
      const session = accepted().find((s) => s.accessKeyId === accessKeyId);
      const granted = !!session && req.headers.get("x-amz-security-token") === session.sessionToken;
      calls.push({ target, accessKeyId, region, granted });
      if (!granted) return awsJsonError(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
      const data = { authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"), expiresAt: Math.floor(Date.now() / 1000) + 12 * 3600 };
      const body = target.startsWith("SpencerFrontendService.") ? { authorizationData: data } : { authorizationData: [{ ...data, proxyEndpoint: "https://ecr.invalid" }] };
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/x-amz-json-1.1" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, calls, async stop() { server.stop(true); } };
}

function awsJsonError(status: number, type: string, message: string): Response {
  return new Response(JSON.stringify({ __type: type, message }), { status, headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type } });
}
