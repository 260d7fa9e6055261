// A loopback HTTP proxy in front of a test registry that injects the failures real networks and registries
// produce: error statuses (500, 429 with Retry-After, 413 from a body limit), connection resets, and rewritten
// answers. A rule sees each request (with a per-rule counter) and either passes it through or answers itself.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";

export type Fault =
  | { status: number; body?: string; headers?: Record<string, string> }
  | "reset"
  /** never answered: the client waits until it gives up or is stopped (a stalled network) */
  | "hang";

export interface ProxiedRequest {
  method: string;
  /** path and query, e.g. "/v2/app/blobs/uploads/?digest=..." */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Returns a fault to inject, or undefined to forward the request to the registry. */
export type FaultRule = (req: ProxiedRequest) => Fault | undefined;

export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  /** every request seen, with what was done to it */
  log: { method: string; path: string; injected?: number | "reset" | "hang" }[];
  stop(): Promise<void>;
}

/** Injects a fault the first `times` requests that match `when`, then forwards. */
export function firstTimes(times: number, when: (r: ProxiedRequest) => boolean, fault: Fault): FaultRule {
  let n = 0;
  return (r) => (when(r) && n++ < times ? fault : undefined);
}

export async function startFaultProxy(upstream: string, rules: FaultRule[]): Promise<FaultProxy> {
  const log: FaultProxy["log"] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const r: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers };
    // The first rule that fires wins; later rules do not see (or count) this request.
    let fault: Fault | undefined;
    for (const rule of rules) if ((fault = rule(r)) !== undefined) break;
    log.push({ method: r.method, path: r.path, ...(fault ? { injected: typeof fault === "string" ? fault : fault.status } : {}) });
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault === "hang") {
      req.resume();
      return;
    }
    if (fault) {
      // Drain the request first so the client is not cut off while still sending.
      req.resume();
      req.on("end", () => {
        res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
        res.end(fault.body ?? JSON.stringify({ errors: [{ code: "INJECTED", message: `injected ${fault.status}` }] }));
      });
      return;
    }
    void forward(upstream, req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const host = `127.0.0.1:${port}`;
  return {
    host,
    log,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };

  async function forward(up: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || k === "host" || k === "connection") continue;
      headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const answer = await fetch(`http://${up}${req.url}`, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      redirect: "manual",
    });
    const out: Record<string, string> = {};
    answer.headers.forEach((v, k) => {
      // Upload Locations name the registry; the client must keep talking to the proxy.
      out[k] = k === "location" ? v.replace(`//${up}/`, `//${host}/`) : v;
    });
    delete out["content-encoding"];
    delete out["transfer-encoding"];
    res.writeHead(answer.status, out);
    if (answer.body && req.method !== "HEAD") {
      for await (const chunk of answer.body) res.write(chunk);
    }
    res.end();
  }
}
