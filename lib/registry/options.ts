// Which scheme and TLS settings a registry gets, from kaniko's flags.
import type { Logger } from "../log/mod.ts";
import { RegistryError } from "./errors.ts";
import type { TlsSettings } from "./session.ts";

export interface RegistryOptions {
  logger: Logger;
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
  /** directory holding config.json (DOCKER_CONFIG); undefined = no file auth */
  dockerConfigDir?: string;
  /** PATH searched for docker-credential-* helpers (the CLI passes $PATH); undefined = the process PATH */
  credentialHelperPath?: string;
  /** extra attempts after a transient failure, with exponential backoff (--image-download-retry / --push-retry) */
  retries?: number;
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
    if (caPath && !insecure) tls.ca = await this.#readCa(registry, caPath);
    return { baseUrl: `${insecure ? "http" : "https"}://${registry}`, tls };
  }

  #readCa(registry: string, path: string): Promise<string> {
    let p = this.#cas.get(path);
    if (!p) {
      p = Bun.file(path).text().catch((e: Error) => {
        throw new RegistryError(`cannot read the certificate ${path} given for registry ${registry} (${e.message}): check --registry-certificate`, { registry });
      });
      this.#cas.set(path, p);
    }
    return p;
  }
}
