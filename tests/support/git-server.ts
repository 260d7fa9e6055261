// A git smart-HTTP server for tests: Bun.serve on 127.0.0.1 in front of git's own `git http-backend` (CGI),
// serving the bare repositories under one directory.
import { existsSync } from "node:fs";

export interface GitServer {
  /** http://127.0.0.1:PORT */
  url: string;
  stop(): void;
}

const BACKEND = "/usr/lib/git-core/git-http-backend";

export function startGitServer(projectRoot: string): GitServer {
  if (!existsSync(BACKEND)) throw new Error(`${BACKEND} not found: install git (apt-get install git)`);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
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
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
