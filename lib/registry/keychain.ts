// Credentials for a registry: Docker's config.json (credHelpers, credsStore, then auths, as docker/cli resolves them),
// then credentials the environment names, then the registry's cloud (ECR, GCR/Artifact Registry, ACR), then none.
import { join } from "node:path";
import { DOCKER_HUB } from "../image/mod.ts";
import { CLOUD_LOGINS, cloudProviderFor, HELPER_PROVIDERS, type CloudLogin, type CloudProviderName } from "./cloud.ts";
import { RegistryError } from "./errors.ts";

export type Credential = (
  | { kind: "basic"; username: string; password: string }
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token realm. */
  | { kind: "identityToken"; token: string; username?: string }
) & {
  /** When a short-lived credential (a cloud login's token) stops working, in ms since the epoch; absent = never. */
  expiresAt?: number;
};

export class CredentialError extends RegistryError {
  constructor(registry: string, message: string) {
    super(message, { registry });
    this.name = "CredentialError";
  }
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's credentials live under its legacy v1 URL. */
const HUB_SERVER = "https://index.docker.io/v1/";
const HUB_KEYS = new Set(["index.docker.io", "docker.io", "registry-1.docker.io"]);

/** "https://host:5000/v2/" -> "host:5000"; keys in config.json come in many spellings. */
function hostOfKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z]+:\/\//i, "");
  const slash = k.indexOf("/");
  if (slash >= 0) k = k.slice(0, slash);
  return k.toLowerCase();
}

function sameRegistry(key: string, registry: string): boolean {
  const h = hostOfKey(key);
  if (registry === DOCKER_HUB) return HUB_KEYS.has(h);
  return h === registry.toLowerCase();
}

/** The server URL Docker passes to credential helpers. */
export function helperServerURL(registry: string): string {
  return registry === DOCKER_HUB ? HUB_SERVER : registry;
}

/** A short-lived credential is fetched again this long before it expires (or at half its life, if that is sooner). */
const EXPIRY_MARGIN_MS = 5 * 60_000;

export interface KeychainOptions {
  /** the directory holding config.json; undefined means no file */
  dockerConfigDir?: string;
  /** the PATH searched for docker-credential-* helpers; undefined means the process PATH */
  helperPath?: string;
  /** credentials the caller found in the environment, by registry; used when config.json has none */
  env?: Record<string, { username: string; password: string }>;
  /**
   * The environment handed to the cloud logins (region, endpoint overrides, token files). The caller (the CLI) passes
   * its own; the SDKs' credential chains also read process.env themselves, which nothing here can prevent.
   */
  cloudEnv?: Readonly<Record<string, string | undefined>>;
  /** provider -> login; tests replace them */
  cloudLogins?: Partial<Record<CloudProviderName, () => Promise<CloudLogin>>>;
  now?: () => number;
}

interface Cached {
  credential: Promise<Credential | undefined>;
  /** when to resolve again (a cloud token nearing its expiry); undefined = for the life of the process */
  staleAt?: number;
}

export class Keychain {
  readonly configPath: string | undefined;
  #config: Promise<DockerConfigFile> | undefined;
  #cache = new Map<string, Cached>();
  #o: KeychainOptions;
  #now: () => number;

  constructor(o: KeychainOptions = {}) {
    this.configPath = o.dockerConfigDir ? join(o.dockerConfigDir, "config.json") : undefined;
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Where credentials are looked up, for error messages. */
  describe(registry?: string): string {
    const file = this.configPath ? `in ${this.configPath}` : "(no Docker config given; set DOCKER_CONFIG to a directory with config.json)";
    const env = Object.keys(this.#o.env ?? {});
    const where = env.length ? `${file} or from the environment (for ${env.join(", ")})` : file;
    const cloud = registry && cloudProviderFor(registry);
    return cloud ? `${where} or through the ${cloud} login's credential chain` : where;
  }

  resolve(registry: string): Promise<Credential | undefined> {
    const hit = this.#cache.get(registry);
    if (hit && (hit.staleAt === undefined || this.#now() < hit.staleAt)) return hit.credential;
    const entry: Cached = { credential: this.#resolve(registry) };
    entry.credential.then((c) => {
      if (c?.expiresAt === undefined) return;
      const left = c.expiresAt - this.#now();
      entry.staleAt = c.expiresAt - Math.min(EXPIRY_MARGIN_MS, Math.max(0, left) / 2);
    }, () => {});
    this.#cache.set(registry, entry);
    return entry.credential;
  }

  async #load(): Promise<DockerConfigFile> {
    if (!this.configPath) return {};
    const file = Bun.file(this.configPath);
    if (!(await file.exists())) return {};
    const text = await file.text();
    try {
      return JSON.parse(text) as DockerConfigFile;
    } catch (e) {
      throw new CredentialError("", `cannot parse Docker config ${this.configPath}: ${(e as Error).message}; fix or remove the file`);
    }
  }

  async #resolve(registry: string): Promise<Credential | undefined> {
    this.#config ??= this.#load();
    const cfg = await this.#config;
    const helperKey = Object.keys(cfg.credHelpers ?? {}).find((k) => sameRegistry(k, registry));
    const helper = helperKey ? cfg.credHelpers![helperKey] : cfg.credsStore;
    if (helper) {
      const fromHelper = await runHelper(helper, registry, this.#o.helperPath);
      if (fromHelper !== null) {
        if (fromHelper) return fromHelper;
      } else if (HELPER_PROVIDERS[helper]) {
        // kaniko's image ships these helpers; without the binary, the built-in provider does their job.
        const viaProvider = await this.#cloud(registry, HELPER_PROVIDERS[helper]);
        if (viaProvider) return viaProvider;
      }
    }
    const entries = Object.entries(cfg.auths ?? {});
    // An exact key wins over a normalised match (e.g. "host" over "https://host/v1/").
    const entry = entries.find(([k]) => k === registry) ?? entries.find(([k]) => sameRegistry(k, registry));
    const fromFile = entry ? fromEntry(registry, entry[1], this.configPath!) : undefined;
    if (fromFile) return fromFile;
    const env = this.#o.env ?? {};
    const envKey = Object.keys(env).find((k) => sameRegistry(k, registry));
    if (envKey) return { kind: "basic", ...env[envKey] };
    const provider = cloudProviderFor(registry);
    return provider ? this.#cloud(registry, provider) : undefined;
  }

  /** A helper names its cloud loosely ("ecr-login" also serves public.ecr.aws); the host decides which login runs. */
  async #cloud(registry: string, family: "ecr" | "gcr" | "acr" | CloudProviderName): Promise<Credential | undefined> {
    const byHost = cloudProviderFor(registry);
    const provider: CloudProviderName = byHost && byHost.startsWith(family) ? byHost : family;
    const load = this.#o.cloudLogins?.[provider] ?? CLOUD_LOGINS[provider];
    const login = await load();
    return login(registry, { env: this.#o.cloudEnv ?? {} });
  }
}

function fromEntry(registry: string, e: AuthEntry, path: string): Credential | undefined {
  if (e.identitytoken) return { kind: "identityToken", token: e.identitytoken, username: e.username };
  if (e.username && e.password) return { kind: "basic", username: e.username, password: e.password };
  if (e.auth) {
    let decoded: string;
    try {
      decoded = Buffer.from(e.auth, "base64").toString("utf8");
    } catch {
      decoded = "";
    }
    const i = decoded.indexOf(":");
    if (i <= 0) throw new CredentialError(registry, `the "auth" entry for ${registry} in ${path} is not base64 of "user:password"; fix it or run docker login again`);
    return { kind: "basic", username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return undefined;
}

/** Runs docker-credential-<name> get: null when there is no such binary, undefined when it knows nothing. */
async function runHelper(name: string, registry: string, path: string | undefined): Promise<Credential | undefined | null> {
  const bin = Bun.which(`docker-credential-${name}`, path !== undefined ? { PATH: path } : undefined);
  if (!bin) return null;
  const proc = Bun.spawn([bin, "get"], { stdin: new TextEncoder().encode(helperServerURL(registry)), stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) {
    // The helper protocol reports "credentials not found" on stdout with a non-zero exit.
    if (/credentials not found/i.test(out + err)) return undefined;
    throw new CredentialError(registry, `credential helper docker-credential-${name} failed for ${registry} (exit ${code}): ${(err || out).trim()}`);
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(out);
  } catch {
    throw new CredentialError(registry, `credential helper docker-credential-${name} printed no JSON for ${registry}: ${out.trim().slice(0, 200)}`);
  }
  if (!parsed.Secret) return undefined;
  if (parsed.Username === "<token>") return { kind: "identityToken", token: parsed.Secret };
  return { kind: "basic", username: parsed.Username ?? "", password: parsed.Secret };
}

/**
 * Registry credentials platforms hand to jobs through the environment, so no docker-credential binary is needed:
 * GitLab CI's CI_REGISTRY / CI_REGISTRY_USER / CI_REGISTRY_PASSWORD, and the generic convention of
 * docker-credential-env: DOCKER_<host>_USR and DOCKER_<host>_PSW, where <host> is the registry host with "." written
 * "_", "-" written "__" and a ":port" written "_port" (e.g. DOCKER_registry_example_com_5000_USR); case is ignored.
 * The caller (the CLI) passes its environment; nothing in lib/ reads process.env.
 */
export function credentialsFromEnv(env: Record<string, string | undefined>): Record<string, { username: string; password: string }> {
  const out: Record<string, { username: string; password: string }> = {};
  for (const [name, user] of Object.entries(env)) {
    const m = /^DOCKER_(.+)_USR$/i.exec(name);
    if (!m || user === undefined) continue;
    const base = name.slice(0, -4);
    const password = env[`${base}_PSW`] ?? env[`${base}_psw`];
    if (password === undefined) continue;
    out[envHost(m[1])] = { username: user, password };
  }
  if (env.CI_REGISTRY && env.CI_REGISTRY_USER && env.CI_REGISTRY_PASSWORD !== undefined) {
    out[hostOfKey(env.CI_REGISTRY)] = { username: env.CI_REGISTRY_USER, password: env.CI_REGISTRY_PASSWORD };
  }
  return out;
}

/** "registry__1_example_com_5000" -> "registry-1.example.com:5000" */
function envHost(encoded: string): string {
  const host = encoded.toLowerCase().split("__").map((p) => p.replace(/_/g, ".")).join("-");
  // A trailing all-digit label is a port: hosts' last labels are never numeric except in IPv4 addresses,
  // which have four labels before it.
  const labels = host.split(".");
  const last = labels[labels.length - 1];
  const ipv4 = labels.length === 4 && labels.every((l) => /^\d+$/.test(l));
  if (labels.length > 1 && /^\d+$/.test(last) && !ipv4) return `${labels.slice(0, -1).join(".")}:${last}`;
  return host;
}
