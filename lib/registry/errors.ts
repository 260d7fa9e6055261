// One error type for everything that goes wrong talking to a registry. The message names the registry,
// the repository or reference, the HTTP status and the registry's own error code, and says what to do.

export interface RegistryErrorInit {
  registry: string;
  repository?: string;
  status?: number;
  code?: string;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly registry: string;
  readonly repository?: string;
  readonly status?: number;
  /** The registry's error code (e.g. MANIFEST_UNKNOWN, UNAUTHORIZED) or a network code (ECONNREFUSED). */
  readonly code?: string;

  constructor(message: string, init: RegistryErrorInit) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = "RegistryError";
    this.registry = init.registry;
    this.repository = init.repository;
    this.status = init.status;
    this.code = init.code;
  }
}

/** The body shape of distribution errors: {"errors":[{"code","message","detail"}]}. */
interface WireErrors {
  errors?: { code?: string; message?: string; detail?: unknown }[];
}

export function parseWireErrors(body: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(body) as WireErrors;
    const first = parsed.errors?.[0];
    if (first) {
      const msgs = parsed.errors!.map((e) => e.message ?? e.code ?? "").filter(Boolean);
      return { code: first.code, message: msgs.join("; ") };
    }
  } catch {
    // not JSON: some proxies answer with HTML or plain text
  }
  const text = body.trim().slice(0, 200);
  return text ? { message: text } : {};
}

/** Advice for a status, so a user knows what to change. */
function advice(status: number, credentialsHint: string): string {
  if (status === 401) return `check credentials ${credentialsHint}`;
  if (status === 403) return `the credentials ${credentialsHint} lack permission for this repository`;
  if (status === 404) return "check the image name and tag";
  if (status === 429) return "the registry is rate limiting; retry later or raise --push-retry/--image-download-retry";
  if (status >= 500) return "the registry failed; retry later";
  return "";
}

export function statusError(o: {
  registry: string;
  repository?: string;
  /** What was being done, e.g. "pulling manifest latest" */
  action: string;
  status: number;
  body: string;
  credentialsHint: string;
}): RegistryError {
  const wire = parseWireErrors(o.body);
  const statusText = o.status === 401 ? "unauthorized" : o.status === 403 ? "denied" : o.status === 404 ? "not found" : "error";
  const what = o.repository ? ` for repo ${o.repository}` : "";
  const detail = [wire.code, wire.message].filter(Boolean).join(": ");
  const hint = advice(o.status, o.credentialsHint);
  const msg = `${o.status} ${statusText} at ${o.registry}${what} while ${o.action}${detail ? ` (${detail})` : ""}${hint ? `: ${hint}` : ""}`;
  return new RegistryError(msg, { registry: o.registry, repository: o.repository, status: o.status, code: wire.code });
}

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT", "CERT_UNTRUSTED",
  "CERT_NOT_YET_VALID", "HOSTNAME_MISMATCH",
]);

/** Turns a fetch failure (no HTTP answer at all) into a RegistryError. */
export function networkError(registry: string, repository: string | undefined, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const code = (err as { code?: string } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  const what = repository ? ` for repo ${repository}` : "";
  let msg: string;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") msg = `cannot reach registry ${registry} (connection refused)${what}`;
  else if (code === "ENOTFOUND") msg = `cannot reach registry ${registry} (host not found)${what}`;
  else if (code === "ETIMEDOUT" || code === "TimeoutError") msg = `cannot reach registry ${registry} (timed out)${what}`;
  else if (code === "EPROTO") {
    msg = `cannot reach registry ${registry} over HTTPS (TLS handshake failed)${what}: if it serves plain HTTP, pass --insecure-registry ${registry}; `
      + `if it requires a client certificate, pass --registry-client-cert ${registry}=CERT.pem,KEY.pem`;
  }
  else if (code && (TLS_CODES.has(code) || /CERT|TLS|SSL/i.test(code))) {
    msg = `TLS verification failed for registry ${registry} (${code})${what}: pass its CA with --registry-certificate ${registry}=CA.pem, or --skip-tls-verify-registry ${registry}`;
  } else msg = `cannot reach registry ${registry}${what} (${code ? `${code}: ` : ""}${text})`;
  return new RegistryError(msg, { registry, repository, code, cause: err });
}
