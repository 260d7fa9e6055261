// WWW-Authenticate challenges and the token dance of the distribution spec (basic, bearer, OAuth2 refresh tokens).
import type { Credential } from "./keychain.ts";

export type Challenge =
  | { scheme: "none" }
  | { scheme: "basic" }
  | { scheme: "bearer"; realm: string; service?: string };

/** Parses `Bearer realm="https://auth",service="registry",scope="..."` (quoted or bare values). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  if (scheme === "basic") return { scheme: "basic" };
  if (scheme === "bearer" && params.realm) return { scheme: "bearer", realm: params.realm, service: params.service };
  return undefined;
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

export function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(" ");
}

/** How a token endpoint is asked: GET with optional basic auth, or the OAuth2 POST for refresh tokens. */
export function tokenRequest(ch: Extract<Challenge, { scheme: "bearer" }>, scopes: readonly string[], cred: Credential | undefined): { url: string; init: RequestInit } {
  const url = new URL(ch.realm);
  if (cred?.kind === "identityToken") {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: cred.token, client_id: "kiln" });
    if (ch.service) form.set("service", ch.service);
    if (scopes.length) form.set("scope", scopes.join(" "));
    return { url: url.toString(), init: { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } } };
  }
  if (ch.service) url.searchParams.set("service", ch.service);
  for (const s of scopes) url.searchParams.append("scope", s);
  const headers: Record<string, string> = {};
  if (cred?.kind === "basic") {
    headers.authorization = basicHeader(cred.username, cred.password);
    url.searchParams.set("account", cred.username);
  }
  return { url: url.toString(), init: { method: "GET", headers } };
}

export function tokenFromBody(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { token?: string; access_token?: string };
    return j.token || j.access_token || undefined;
  } catch {
    return undefined;
  }
}
