// kiln's OCI distribution client: pull one platform of an image with lazy, verified layers; push with HEAD/mount/upload.
export { RegistryClient, type PullResult } from "./client.ts";
export type { RegistryOptions } from "./options.ts";
export { RegistryError } from "./errors.ts";
export { withBackoff, type Backoff } from "./retry.ts";
export { CredentialError, Keychain, credentialsFromEnv, type Credential } from "./keychain.ts";
