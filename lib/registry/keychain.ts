// Credentials from a Docker config.json: credHelpers, credsStore, then auths (as docker/cli resolves them).
import { join } from "node:path";
import { DOCKER_HUB } from "../image/mod.ts";
import { RegistryError } from "./errors.ts";

export type Credential =
  | { kind: "basic"; username: string; password: string }
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token realm. */
  | { kind: "identityToken"; token: string; username?: string };

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

export class Keychain {
  readonly configPath: string | undefined;
  #config: Promise<DockerConfigFile> | undefined;
  #cache = new Map<string, Promise<Credential | undefined>>();

  #helperPath: string | undefined;

  /**
   * dockerConfigDir: the directory holding config.json; undefined means anonymous only.
   * helperPath: the PATH searched for docker-credential-* helpers; undefined means the process PATH.
   */
  constructor(dockerConfigDir: string | undefined, helperPath?: string) {
    this.configPath = dockerConfigDir ? join(dockerConfigDir, "config.json") : undefined;
    this.#helperPath = helperPath;
  }

  /** Where credentials are looked up, for error messages. */
  describe(): string {
    return this.configPath ? `in ${this.configPath}` : "(no Docker config given; set DOCKER_CONFIG to a directory with config.json)";
  }

  resolve(registry: string): Promise<Credential | undefined> {
    let p = this.#cache.get(registry);
    if (!p) {
      p = this.#resolve(registry);
      this.#cache.set(registry, p);
    }
    return p;
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
      const fromHelper = await runHelper(helper, registry, this.#helperPath);
      if (fromHelper) return fromHelper;
    }
    const entries = Object.entries(cfg.auths ?? {});
    // An exact key wins over a normalised match (e.g. "host" over "https://host/v1/").
    const entry = entries.find(([k]) => k === registry) ?? entries.find(([k]) => sameRegistry(k, registry));
    return entry ? fromEntry(registry, entry[1], this.configPath!) : undefined;
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

/** Runs docker-credential-<name> get; a helper that is missing or knows nothing yields undefined. */
async function runHelper(name: string, registry: string, path: string | undefined): Promise<Credential | undefined> {
  const bin = Bun.which(`docker-credential-${name}`, path !== undefined ? { PATH: path } : undefined);
  if (!bin) return undefined;
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
