// Image references with Docker's defaults: `busybox` = index.docker.io/library/busybox:latest.

export class ReferenceError extends Error {
  constructor(public readonly input: string, reason: string) {
    super(`invalid image reference "${input}": ${reason}`);
    this.name = "ReferenceError";
  }
}

export interface Reference {
  /** Registry host[:port] as used on the wire; Docker Hub is "index.docker.io" (as go-containerregistry and kaniko name it). */
  registry: string;
  /** Repository path, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = "index.docker.io";
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

export function parseReference(input: string): Reference {
  if (!input) throw new ReferenceError(input, "empty");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(input, `bad digest "${digest}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(input, `bad tag "${tag}"`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0];
  // As go-containerregistry (kaniko) decides: only a dot, a port or "localhost" makes the first part a registry, so
  // "UPPER/case" is an upper-case repository (an error), not a host named UPPER as Docker's CLI would guess.
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = HUB_ALIASES.has(first) ? DOCKER_HUB : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p === "")) throw new ReferenceError(input, "empty path component");
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw new ReferenceError(input, p !== p.toLowerCase() ? "repository name must be lowercase" : `bad path component "${p}"`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (!tag && !digest) tag = "latest";
  return { registry, repository, tag, digest };
}

/** Canonical string: registry/repository[:tag][@digest]. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** Docker's short form for messages and docker-archive tags: docker.io/library/x:t -> x:t. */
export function familiarName(r: Reference): string {
  let name = `${r.registry}/${r.repository}`;
  if (r.registry === DOCKER_HUB) {
    name = r.repository.startsWith("library/") ? r.repository.slice(8) : `docker.io/${r.repository}`;
  }
  return `${name}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** What the manifest endpoint is asked for: the digest when pinned, else the tag. */
export function manifestSelector(r: Reference): string {
  return r.digest ?? r.tag ?? "latest";
}
