// A git smart-HTTP server for tests: Bun.serve on 127.0.0.1 in front of git's own `git http-backend` (CGI),
// serving the bare repositories under one directory; optionally behind HTTP basic auth and over TLS.
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { makeCerts } from "./registry.ts";

export interface GitServer {
  /** http://127.0.0.1:PORT, or https://... with `tls` */
  url: string;
  /** host:port, for git:// specs */
  host: string;
  stop(): void;
}

export interface GitServerOptions {
  /** Accepted basic-auth username -> password; without it the server is open. */
  users?: Record<string, string>;
  /** PEM files of the server's certificate and key (e.g. makeCerts from registry.ts). */
  tls?: { cert: string; key: string };
}

const BACKEND = "/usr/lib/git-core/git-http-backend";

function authorized(req: Request, users: Record<string, string>): boolean {
  const m = /^Basic (.+)$/.exec(req.headers.get("authorization") ?? "");
  if (!m) return false;
  const text = Buffer.from(m[1], "base64").toString();
  const i = text.indexOf(":");
  return i >= 0 && Object.hasOwn(users, text.slice(0, i)) && users[text.slice(0, i)] === text.slice(i + 1);
}

export function startGitServer(projectRoot: string, opts: GitServerOptions = {}): GitServer {
  if (!existsSync(BACKEND)) throw new Error(`${BACKEND} not found: install git (apt-get install git)`);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(opts.tls ? { tls: { cert: Bun.file(opts.tls.cert), key: Bun.file(opts.tls.key) } } : {}),
    async fetch(req) {
      if (opts.users && !authorized(req, opts.users)) {
        return new Response("authentication required\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="kiln test git"' } });
      }
      const u = new URL(req.url);
      const body = req.method === "POST" ? new Uint8Array(await req.arrayBuffer()) : undefined;
      const p = Bun.spawn([BACKEND], {
        env: {
          GIT_PROJECT_ROOT: projectRoot, GIT_HTTP_EXPORT_ALL: "1", PATH_INFO: decodeURIComponent(u.pathname), QUERY_STRING: u.search.slice(1),
          REQUEST_METHOD: req.method, CONTENT_TYPE: req.headers.get("content-type") ?? "", CONTENT_LENGTH: String(body?.length ?? 0),
          REMOTE_ADDR: "127.0.0.1", PATH: "/usr/bin:/bin",
        },
        stdin: body ?? "ignore", stdout: "pipe", stderr: "ignore",
      });
      const out = Buffer.from(await new Response(p.stdout).arrayBuffer());
      await p.exited;
      const split = out.indexOf("\r\n\r\n");
      const headText = out.subarray(0, split).toString("latin1");
      const headers = new Headers();
      let status = 200;
      for (const line of headText.split("\r\n")) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim(), v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = parseInt(v, 10);
        else headers.append(k, v);
      }
      return new Response(out.subarray(split + 4), { status, headers });
    },
  });
  const host = `127.0.0.1:${server.port}`;
  return { url: `${opts.tls ? "https" : "http"}://${host}`, host, stop: () => server.stop(true) };
}

function sh(cmd: string, cwd: string): string {
  const p = Bun.spawnSync(["sh", "-c", cmd], { cwd, stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: cwd } });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

const GIT = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main -c protocol.file.allow=always";

function commitFiles(work: string, files: Record<string, string>, message: string): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(work, name)), { recursive: true });
    writeFileSync(join(work, name), text);
  }
  sh(`${GIT} add -A && ${GIT} commit -qm ${JSON.stringify(message)}`, work);
  return sh("git rev-parse HEAD", work);
}

/** What makeContextRepos built: bare repositories `main.git` and `lib.git` under `root`, and the commit ids tests pin. */
export interface ContextRepos {
  root: string;
  /** the commit on main that is no branch's head (its files say "v1") */
  oldCommit: string;
  /** the commit of lib.git that main.git's submodule points at */
  libCommit: string;
}

/**
 * Repositories for git build contexts: main.git has `main` (head: files say "v2", a submodule `lib` at ../lib.git,
 * and app/Dockerfile for --context-sub-path), branch `feature` (files say "feature"), tag `t1` (files say "tag"),
 * and an older commit on main (files say "v1"). Each state has a Dockerfile `FROM scratch` + `COPY . /ctx`.
 */
export function makeContextRepos(root: string): ContextRepos {
  const dockerfile = "FROM scratch\nCOPY . /ctx\n";
  const lib = join(root, "lib-work"), work = join(root, "main-work");
  mkdirSync(lib, { recursive: true });
  mkdirSync(work, { recursive: true });
  sh(`${GIT} init -q`, lib);
  const libCommit = commitFiles(lib, { "lib.txt": "from the submodule\n" }, "lib");
  commitFiles(lib, { "lib.txt": "a later lib commit the submodule does not point at\n" }, "lib later");
  sh(`git clone -q --bare . ../lib.git`, lib);

  sh(`${GIT} init -q`, work);
  const oldCommit = commitFiles(work, { Dockerfile: dockerfile, "which.txt": "v1\n" }, "v1");
  sh(`${GIT} checkout -qb feature`, work);
  commitFiles(work, { "which.txt": "feature\n" }, "feature");
  sh(`${GIT} checkout -qb for-tag ${oldCommit}`, work);
  commitFiles(work, { "which.txt": "tag\n" }, "tag");
  sh(`${GIT} tag -a t1 -m t1 && ${GIT} checkout -q main && ${GIT} branch -qD for-tag`, work);
  commitFiles(work, { "which.txt": "v2\n", "app/Dockerfile": dockerfile, "app/app.txt": "app\n" }, "v2");
  sh(`${GIT} submodule add -q ../lib.git lib && git -C lib checkout -q ${libCommit} && ${GIT} add lib && ${GIT} commit -qm submodule`, work);
  sh(`git clone -q --bare . ../main.git`, work);
  return { root, oldCommit, libCommit };
}

/** makeContextRepos served twice: over plain HTTP, and over HTTPS (a throwaway CA) behind basic auth. */
export interface ContextGitServers {
  repos: ContextRepos;
  plain: GitServer;
  /** accepts alice:pw, and the token "tok" as a username with an empty password (kaniko's GIT_TOKEN) */
  secure: GitServer;
  /** PEM file of the CA that signed `secure`'s certificate */
  ca: string;
  stop(): void;
}

export async function startContextGitServers(): Promise<ContextGitServers> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-gitctx-"));
  const repos = makeContextRepos(join(dir, "repos"));
  mkdirSync(join(dir, "certs"));
  const certs = await makeCerts(join(dir, "certs"));
  const plain = startGitServer(repos.root);
  const secure = startGitServer(repos.root, { tls: certs, users: { tok: "", alice: "pw" } });
  return {
    repos, plain, secure, ca: certs.ca,
    stop: () => {
      plain.stop();
      secure.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** startContextGitServers for a test file or describe block: started in beforeAll, stopped in afterAll; read its fields inside tests. */
export function useContextGitServers(): Omit<ContextGitServers, "stop"> {
  let servers: ContextGitServers | undefined;
  beforeAll(async () => {
    servers = await startContextGitServers();
  }, 60_000);
  afterAll(() => servers?.stop());
  const get = () => {
    if (!servers) throw new Error("the git servers start in beforeAll");
    return servers;
  };
  return {
    get repos() { return get().repos; },
    get plain() { return get().plain; },
    get secure() { return get().secure; },
    get ca() { return get().ca; },
  };
}
