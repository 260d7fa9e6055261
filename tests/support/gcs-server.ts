// A GCS stand-in for tests: no emulator of the GCS JSON API installs offline from npm or Debian (fake-gcs-server
// is a Go program; mock-gcs mocks the SDK in-process), so this serves the one call kiln makes,
// GET /storage/v1/b/BUCKET/o/OBJECT?alt=media, with Google's error shapes, on 127.0.0.1. It records the
// Authorization header of each request and, given a token, refuses others as GCS does (401).
export interface GcsServer {
  /** http://127.0.0.1:PORT, for STORAGE_EMULATOR_HOST */
  url: string;
  /** Authorization headers seen, in order ("" when none). */
  authorizations: string[];
  put(bucket: string, object: string, body: Uint8Array): void;
  stop(): void;
}

export interface GcsServerOptions {
  /** When set, only "Bearer TOKEN" is let in. */
  token?: string;
  /** Objects ("bucket/object") the caller may not read: 403. */
  forbidden?: string[];
}

function googleError(status: number, message: string): Response {
  return Response.json({ error: { code: status, message, errors: [{ message, domain: "global" }] } }, { status });
}

export function startGcsServer(opts: GcsServerOptions = {}): GcsServer {
  const buckets = new Map<string, Map<string, Uint8Array>>();
  const authorizations: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
      if (!m || req.method !== "GET" || url.searchParams.get("alt") !== "media") return googleError(400, "unsupported by the test server");
      const auth = req.headers.get("authorization") ?? "";
      authorizations.push(auth);
      if (opts.token !== undefined && auth !== `Bearer ${opts.token}`) return googleError(401, "Invalid Credentials");
      const bucket = decodeURIComponent(m[1]), object = decodeURIComponent(m[2]);
      if (opts.forbidden?.includes(`${bucket}/${object}`)) {
        return googleError(403, `kiln-test@kiln-test.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.`);
      }
      const objects = buckets.get(bucket);
      if (!objects) return googleError(404, "The specified bucket does not exist.");
      const body = objects.get(object);
      if (!body) return googleError(404, `No such object: ${bucket}/${object}`);
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    authorizations,
    put(bucket, object, body) {
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      buckets.get(bucket)!.set(object, body);
    },
    stop: () => server.stop(true),
  };
}
