// Which scheme and TLS settings a registry gets, from kaniko's flags.
import { rootCertificates } from "node:tls";
import { RegistryError } from "./errors.ts";
import type { TlsSettings } from "./session.ts";

/**
 * How kiln reaches registries (kaniko's registry flags): one shape from the CLI through BuildOptions.registry to
 * RegistryClient, passed on as it is. Every field is optional; absent means off, empty or none.
 */
export interface RegistryOptions {
  /** registries (host[:port]) to reach over plain HTTP */
  insecureRegistries?: string[];
  /** plain HTTP for every pull / every push (kaniko's --insecure-pull / --insecure) */
  insecurePull?: boolean;
  insecurePush?: boolean;
  skipTlsVerify?: boolean;
  skipTlsVerifyPull?: boolean;
  skipTlsVerifyRegistries?: string[];
  /** registry -> CA PEM file path (--registry-certificate) */
  certificates?: Record<string, string>;
  /**
   * PEM files of extra CAs trusted for every registry, on top of the built-in roots (the executor image's
   * /kaniko/ssl/certs and SSL_CERT_DIR)
   */
  caFiles?: string[];
  /** registry -> client certificate and key PEM file paths for mutual TLS (--registry-client-cert) */
  clientCerts?: Record<string, { cert: string; key: string }>;
  /**
   * registry -> mirrors ("host[:port][/prefix]"), tried in order for pulls before the registry itself
   * (--registry-map, --registry-mirror for index.docker.io). Keys may use any Docker Hub alias.
   */
  registryMap?: Record<string, string[]>;
  /** pull only from the mirrors of a mapped registry, never from the registry itself */
  skipDefaultRegistryFallback?: boolean;
  /** a manifest PUT refused because the tag is immutable (ECR, GAR, Harbor, ...) counts as pushed */
  ignoreImmutableTagErrors?: boolean;
  /** registry -> credentials from the environment (GitLab CI, DOCKER_<host>_USR/_PSW); config.json wins */
  envCredentials?: Record<string, { username: string; password: string }>;
  /**
   * the environment the cloud logins (ECR, GCR, ACR) read: region, endpoint overrides, token files. The CLI passes its
   * own; undefined = an empty one (the SDKs' chains still read process.env themselves).
   */
  cloudEnv?: Readonly<Record<string, string | undefined>>;
  /** directory holding config.json (DOCKER_CONFIG); undefined = no file auth */
  dockerConfigDir?: string;
  /** PATH searched for docker-credential-* helpers (the CLI passes $PATH); undefined = the process PATH */
  credentialHelperPath?: string;
  /** extra attempts after a transient failure, with exponential backoff; the default for pullRetries and pushRetries */
  retries?: number;
  /** extra attempts for pulls (--image-download-retry) */
  pullRetries?: number;
  /** extra attempts for pushes and the push permission check (--push-retry) */
  pushRetries?: number;
  /** bytes per PATCH when a registry refuses a monolithic upload (default 16 MiB; halved on 413 down to 256 KiB) */
  chunkSize?: number;
  userAgent?: string;
  /** how many blobs are uploaded at once (default 3) */
  pushConcurrency?: number;
  /** first retry delay in ms, doubling each attempt (default 250) */
  retryBackoffMs?: number;
}

export type Purpose = "pull" | "push";

export interface Endpoint {
  baseUrl: string;
  tls: TlsSettings;
}

/** Resolves the endpoint for a registry; CA files are read once. */
export class EndpointPolicy {
  #o: RegistryOptions;
  /** PEM files by path, read once */
  #cas = new Map<string, Promise<string>>();

  constructor(o: RegistryOptions) {
    this.#o = o;
  }

  async endpoint(registry: string, purpose: Purpose): Promise<Endpoint> {
    const o = this.#o;
    const insecure = (o.insecureRegistries ?? []).includes(registry)
      || (purpose === "pull" && !!o.insecurePull)
      || (purpose === "push" && !!o.insecurePush);
    const skipVerify = !!o.skipTlsVerify
      || (purpose === "pull" && !!o.skipTlsVerifyPull)
      || (o.skipTlsVerifyRegistries ?? []).includes(registry);
    const tls: TlsSettings = { rejectUnauthorized: !skipVerify };
    const caPath = o.certificates?.[registry];
    const extra = insecure ? [] : o.caFiles ?? [];
    if ((caPath || extra.length) && !insecure) {
      // Setting `ca` replaces the default trust store, so the built-in roots go first.
      const pems = await Promise.all([...extra.map((f) => this.#read(registry, f, "SSL_CERT_DIR and /kaniko/ssl/certs")),
        ...(caPath ? [this.#read(registry, caPath, "--registry-certificate")] : [])]);
      tls.ca = (extra.length ? [...rootCertificates, ...pems] : pems).join("\n");
    }
    const client = o.clientCerts?.[registry];
    if (client && !insecure) {
      [tls.cert, tls.key] = await Promise.all([
        this.#read(registry, client.cert, "--registry-client-cert"), this.#read(registry, client.key, "--registry-client-cert"),
      ]);
    }
    return { baseUrl: `${insecure ? "http" : "https"}://${registry}`, tls };
  }

  #read(registry: string, path: string, flag: string): Promise<string> {
    let p = this.#cas.get(path);
    if (!p) {
      p = Bun.file(path).text().catch((e: Error) => {
        throw new RegistryError(`cannot read ${path} given for registry ${registry} (${e.message}): check ${flag}`, { registry, code: "CERT_FILE" });
      });
      this.#cas.set(path, p);
    }
    return p;
  }
}
