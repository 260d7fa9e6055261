// Which cloud's credential chain logs in to a registry host, and the lazily loaded module that does it.
// The SDKs are large: nothing here imports them, so `kiln version` and builds against other registries never load them.
import type { Credential } from "./keychain.ts";

export type CloudProviderName = "ecr" | "ecr-public" | "gcr" | "acr";

export interface CloudLoginOptions {
  /**
   * The environment the CLI was given. Providers pass what they can from it explicitly (region, endpoint overrides,
   * token files); the SDKs' own credential chains still read process.env themselves, which is the same environment
   * when kiln runs as its CLI.
   */
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
}

/** Logs in to one registry; undefined means the chain found no identity (the keychain goes on to anonymous). */
export type CloudLogin = (registry: string, opts: CloudLoginOptions) => Promise<Credential | undefined>;

/**
 * Private ECR as amazon-ecr-credential-helper recognises it: "<12-digit account>.dkr.ecr[-fips].<region>.<partition
 * domain>", the dual-stack "dkr-ecr" spelling included.
 */
const ECR_HOST = /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9_-]*)\.(amazonaws\.com(\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;
/** Azure public cloud, China, US Government (and the retired German cloud, still served by ACR's docs). */
const ACR_HOST = /^[a-z0-9]+\.azurecr\.(io|cn|us|de)$/;

function hostOnly(registry: string): string {
  let h = registry.trim().toLowerCase().replace(/^[a-z]+:\/\//, "");
  const slash = h.indexOf("/");
  if (slash >= 0) h = h.slice(0, slash);
  // A :port is ignored so a registry reached on a loopback port under a cloud name keeps its provider.
  return h.replace(/:\d+$/, "");
}

export function cloudProviderFor(registry: string): CloudProviderName | undefined {
  const h = hostOnly(registry);
  if (ECR_HOST.test(h)) return "ecr";
  if (h === "public.ecr.aws") return "ecr-public";
  if (h === "gcr.io" || h.endsWith(".gcr.io") || /^[a-z0-9-]+-docker\.pkg\.dev$/.test(h)) return "gcr";
  if (ACR_HOST.test(h)) return "acr";
  return undefined;
}

/** The region in an ECR host name ("123456789012.dkr.ecr.eu-west-1.amazonaws.com" -> "eu-west-1"). */
export function ecrRegionOf(registry: string): string | undefined {
  return ECR_HOST.exec(hostOnly(registry))?.[3];
}

/** True for an ECR host of the FIPS endpoints, whose API must be reached through FIPS endpoints too. */
export function ecrIsFips(registry: string): boolean {
  return !!ECR_HOST.exec(hostOnly(registry))?.[2];
}

/** Provider -> its login, imported on first use. */
export const CLOUD_LOGINS: Record<CloudProviderName, () => Promise<CloudLogin>> = {
  ecr: async () => (await import("./ecr.ts")).ecrLogin,
  "ecr-public": async () => (await import("./ecr.ts")).ecrLogin,
  gcr: async () => (await import("./gcr.ts")).gcrLogin,
  acr: async () => (await import("./acr.ts")).acrLogin,
};

/**
 * Docker credential helpers that stand for a built-in provider (kaniko's image ships them): a config.json naming one
 * works unchanged when no docker-credential-<name> binary is on PATH.
 */
export const HELPER_PROVIDERS: Readonly<Record<string, "ecr" | "gcr" | "acr">> = {
  "ecr-login": "ecr",
  gcr: "gcr",
  gcloud: "gcr",
  "acr-env": "acr",
};
