// One registry endpoint (scheme + TLS settings) with its auth state: pings /v2/ once to learn the challenge,
// attaches credentials or cached bearer tokens per scope, retries transient failures, follows redirects
// without leaking credentials to other hosts.
import type { Logger } from "../log/mod.ts";
import { basicHeader, parseChallenge, scopeKey, tokenFromBody, tokenRequest, type Challenge } from "./auth.ts";
import { networkError, RegistryError, statusError } from "./errors.ts";
import type { Keychain } from "./keychain.ts";
import { retryAfterMs, withBackoff, type Backoff } from "./retry.ts";

export interface TlsSettings {
  rejectUnauthorized: boolean;
  ca?: string;
  /** client certificate and key (PEM) for mutual TLS */
  cert?: string;
  key?: string;
}

export interface SessionOptions {
  registry: string;
  /** "http://host" or "https://host" */
  baseUrl: string;
  tls: TlsSettings;
  keychain: Keychain;
  logger: Logger;
  /** Extra attempts after a transient failure (network error, 429, 5xx). */
  retries: number;
  userAgent: string;
  /** First backoff delay in ms; doubles each attempt. */
  backoffMs?: number;
  /**
   * Where the /v2/ ping's answer is kept: sessions of one endpoint (a registry's pull and push sessions with the
   * same URL and TLS settings) share it, so a build pings each registry once. Default: this session's own.
   */
  ping?: PingCache;
}

/** The challenge a /v2/ ping learned, shared by the sessions of one endpoint. */
export interface PingCache {
  challenge?: Promise<Challenge>;
}

export interface SessionRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** A path under the base URL ("/v2/...") or an absolute URL (upload Locations). */
  path: string;
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** A factory, so a body can be sent again after a retry or an auth refresh. */
  body?: () => Promise<Bun.BodyInit> | Bun.BodyInit;
  repository?: string;
  /** For error messages: "pushing blob sha256:..." */
  action: string;
  /** false: one attempt only, because the caller retries a larger sequence (an upload) as a whole */
  retry?: boolean;
}

/** What an attempt given to Session.retrying returns to ask for another attempt. */
export interface RetryWith {
  retry: RegistryError;
}

const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);

export class Session {
  readonly registry: string;
  readonly baseUrl: string;
  #o: SessionOptions;
  #ping: PingCache;
  #challenge: Promise<Challenge> | undefined;
  #tokens = new Map<string, Promise<string>>();

  constructor(o: SessionOptions) {
    this.#o = o;
    this.#ping = o.ping ?? {};
    this.registry = o.registry;
    this.baseUrl = o.baseUrl;
  }

  get logger(): Logger {
    return this.#o.logger;
  }

  /** Is this failure worth another attempt: a transient status, or a network failure other than TLS. */
  static transient(e: unknown): e is RegistryError {
    if (!(e instanceof RegistryError)) return false;
    if (e.status !== undefined) return TRANSIENT.has(e.status);
    return e.cause !== undefined && !/CERT|TLS|SSL|EPROTO|ENOTFOUND/i.test(e.code ?? "");
  }

  /**
   * Runs a multi-request sequence with the session's retry budget and backoff; an attempt returns
   * { retry: error } to ask for another one (the error is thrown when none is left).
   */
  async retrying<T>(what: string, attempt: () => Promise<T | RetryWith>): Promise<T> {
    return withBackoff<T>(this.#backoff(true), async () => {
      const r = await attempt();
      if (!(typeof r === "object" && r !== null && "retry" in r && r.retry instanceof RegistryError)) return { done: r as T };
      return { again: r.retry, because: `${what} at ${this.registry} failed (${r.retry.message})` };
    });
  }

  #backoff(canRetry: boolean): Backoff {
    return { attempts: canRetry ? this.#o.retries + 1 : 1, firstDelayMs: this.#o.backoffMs ?? 250, warn: (m) => this.#o.logger.warn(m) };
  }

  /** Where credentials come from, for messages. */
  credentialsHint(): string {
    return this.#o.keychain.describe(this.registry);
  }

  /** Turns a non-success response into a RegistryError (consumes the body). */
  async fail(res: Response, action: string, repository?: string): Promise<RegistryError> {
    const body = await res.text().catch(() => "");
    return statusError({ registry: this.registry, repository, action, status: res.status, body, credentialsHint: this.credentialsHint() });
  }

  #fetch(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("user-agent", this.#o.userAgent);
    // Bun's fetch takes TLS options in its init; only https URLs use them.
    return fetch(url, { ...init, headers, redirect: "manual", tls: this.#o.tls } as RequestInit);
  }

  #challengeOnce(repository: string | undefined): Promise<Challenge> {
    if (this.#challenge) return this.#challenge;
    const shared = this.#ping;
    const challenge = shared.challenge ?? this.#pingOnce(repository, () => {
      // Out of retries on a 5xx or 429, the session goes on without auth (its requests report the status), but
      // other sessions of the endpoint do not inherit that: they ping again, with their own retries.
      if (shared.challenge === challenge) shared.challenge = undefined;
    });
    this.#challenge = shared.challenge = challenge;
    // A failed ping must not stick: the next call tries again.
    challenge.catch(() => {
      if (this.#challenge === challenge) this.#challenge = undefined;
      if (shared.challenge === challenge) shared.challenge = undefined;
    });
    return challenge;
  }

  async #pingOnce(repository: string | undefined, transient: () => void): Promise<Challenge> {
    let res: Response;
    try {
      res = await this.#withRetries(() => this.#fetch(`${this.baseUrl}/v2/`, { method: "GET" }), "GET");
    } catch (e) {
      throw networkError(this.registry, repository, e);
    }
    await res.arrayBuffer().catch(() => {});
    if (res.status === 401) {
      const ch = parseChallenge(res.headers.get("www-authenticate"));
      if (ch) return ch;
    }
    if (res.status === 400 && this.baseUrl.startsWith("http:")) {
      throw new RegistryError(`registry ${this.registry} answered plain HTTP with 400: it probably speaks HTTPS only; drop it from --insecure-registry / --insecure`, { registry: this.registry, status: 400, code: "HTTP_TO_HTTPS" });
    }
    if (TRANSIENT.has(res.status)) transient();
    return { scheme: "none" };
  }

  async #authHeader(ch: Challenge, scopes: readonly string[], refresh: boolean, repository: string | undefined): Promise<string | undefined> {
    if (ch.scheme === "none") return undefined;
    const cred = await this.#o.keychain.resolve(this.registry);
    if (ch.scheme === "basic") return cred?.kind === "basic" ? basicHeader(cred.username, cred.password) : undefined;
    const key = scopeKey(scopes);
    if (refresh) this.#tokens.delete(key);
    let tok = this.#tokens.get(key);
    if (!tok) {
      tok = this.#fetchToken(ch, scopes, repository);
      this.#tokens.set(key, tok);
      tok.catch(() => this.#tokens.delete(key));
    }
    return `Bearer ${await tok}`;
  }

  async #fetchToken(ch: Extract<Challenge, { scheme: "bearer" }>, scopes: readonly string[], repository: string | undefined): Promise<string> {
    const cred = await this.#o.keychain.resolve(this.registry);
    const { url, init } = tokenRequest(ch, scopes, cred);
    this.#o.logger.debug("fetching registry token", { registry: this.registry, scopes: scopes.join(" ") });
    let res: Response;
    try {
      res = await this.#withRetries(() => this.#fetch(url, init), init.method ?? "GET");
    } catch (e) {
      throw networkError(this.registry, repository, e);
    }
    if (!res.ok) throw await this.fail(res, `fetching a token from ${ch.realm}`, repository);
    const token = tokenFromBody(await res.text());
    if (!token) throw new RegistryError(`token endpoint ${ch.realm} of ${this.registry} returned no token`, { registry: this.registry, repository });
    return token;
  }

  #withRetries(send: () => Promise<Response>, method: string, canRetry = true): Promise<Response> {
    return withBackoff<Response>(this.#backoff(canRetry), async (last) => {
      let res: Response;
      try {
        res = await send();
      } catch (e) {
        return { again: e, because: `request to ${this.registry} failed (${(e as Error).message})` };
      }
      // The last attempt's answer is the caller's to report, whatever its status.
      if (last || !TRANSIENT.has(res.status)) return { done: res };
      await res.arrayBuffer().catch(() => {});
      // A rate-limited registry (429 TOOMANYREQUESTS) may say when to come back; honour it, within reason.
      const after = retryAfterMs(res.headers.get("retry-after"));
      // (never thrown: this is not the last attempt)
      return { again: undefined, because: `registry ${this.registry} answered ${res.status} to ${method}`, retryAfterMs: after };
    });
  }

  /** Sends a request with auth and retries; the caller checks the status. */
  async request(r: SessionRequest): Promise<Response> {
    const ch = await this.#challengeOnce(r.repository);
    const url = r.path.startsWith("http://") || r.path.startsWith("https://") ? r.path : `${this.baseUrl}${r.path}`;
    const send = async (refresh: boolean): Promise<Response> => {
      const auth = await this.#authHeader(ch, r.scopes, refresh, r.repository);
      return this.#withRetries(async () => {
        const headers: Record<string, string> = { ...r.headers };
        if (auth) headers.authorization = auth;
        const body = r.body ? await r.body() : undefined;
        return this.#follow(url, { method: r.method, headers, body }, auth);
      }, r.method, r.retry !== false);
    };
    try {
      let res = await send(false);
      // A bearer token can expire mid-build: fetch a fresh one once.
      if (res.status === 401 && ch.scheme === "bearer") {
        await res.arrayBuffer().catch(() => {});
        res = await send(true);
      }
      return res;
    } catch (e) {
      throw networkError(this.registry, r.repository, e);
    }
  }

  /** Follows redirects by hand so credentials stay with the registry's own origin (blobs often redirect to storage). */
  async #follow(url: string, init: { method: string; headers: Record<string, string>; body?: Bun.BodyInit }, auth: string | undefined): Promise<Response> {
    const origin = new URL(url).origin;
    let current = url;
    for (let hop = 0; hop < 10; hop++) {
      const res = await this.#fetch(current, init);
      const loc = res.headers.get("location");
      // 201/202 carry Location as data (upload URLs), not as a redirect.
      if (![301, 302, 303, 307, 308].includes(res.status) || !loc) return res;
      await res.arrayBuffer().catch(() => {});
      current = new URL(loc, current).toString();
      const headers = { ...init.headers };
      if (new URL(current).origin !== origin) delete headers.authorization;
      else if (auth) headers.authorization = auth;
      init = res.status === 303 ? { method: "GET", headers } : { ...init, headers };
    }
    throw new RegistryError(`too many redirects from ${this.registry} for ${url}`, { registry: this.registry });
  }
}
