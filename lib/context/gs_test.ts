// fetchGcs against the loopback GCS stand-in: the ADC token from a service-account key (token_uri at a loopback token
// endpoint) reaches the server; missing bucket/object, 403, refused and missing credentials, a dead endpoint.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchGcs, gcsBase, parseGcsSpec } from "./gs.ts";
import type { ContextFetchOptions } from "./source.ts";
import { startGcsServer, type GcsServer } from "../../tests/support/gcs-server.ts";
import { startGcpStandin, type GcpStandin } from "../../tests/support/gcp-standin.ts";
import { contextFailure as failure, contextTarGz, listTarGz } from "../../tests/support/context-tar.ts";

const TOKEN = "ya29.kiln-gcs-test";
let gcs: GcsServer;
let google: GcpStandin;
let keyFile: string;
beforeAll(async () => {
  gcs = startGcsServer({ token: TOKEN, forbidden: ["ctx/secret.tar.gz"] });
  google = startGcpStandin({ token: TOKEN });
  keyFile = await google.writeServiceAccount(mkdtempSync(join(tmpdir(), "kiln-gcs-")));
  const tgz = await contextTarGz({ Dockerfile: "FROM scratch\n", "sub/b.txt": "bee" });
  gcs.put("ctx", "context.tar.gz", tgz);
  gcs.put("ctx", "path/to/ctx.tar.gz", tgz);
});
afterAll(() => { gcs.stop(); google.stop(); });

function opts(env: Record<string, string> = {}): ContextFetchOptions {
  return { env: { STORAGE_EMULATOR_HOST: gcs.url, GOOGLE_APPLICATION_CREDENTIALS: keyFile, ...env }, git: {}, maxBytes: 1 << 30 };
}

describe("gs:// contexts", () => {
  test("spec and endpoint", () => {
    expect(parseGcsSpec("gs://b")).toEqual({ bucket: "b", object: "context.tar.gz" });
    expect(parseGcsSpec("gs://b/p/x.tar.gz")).toEqual({ bucket: "b", object: "p/x.tar.gz" });
    expect(gcsBase({})).toBe("https://storage.googleapis.com");
    expect(gcsBase({ STORAGE_EMULATOR_HOST: "127.0.0.1:9023" })).toBe("http://127.0.0.1:9023");
    expect(gcsBase({ STORAGE_EMULATOR_HOST: "http://127.0.0.1:9023/" })).toBe("http://127.0.0.1:9023");
  });

  test("the service account's token reaches GCS and the object streams back", async () => {
    const before = gcs.authorizations.length;
    for (const spec of ["gs://ctx", "gs://ctx/path/to/ctx.tar.gz"]) {
      const src = await fetchGcs(spec, opts());
      expect(src.describe).toBe(spec);
      expect(await listTarGz(src.stream)).toEqual(["Dockerfile=FROM scratch", "sub/b.txt=bee"]);
    }
    expect(gcs.authorizations.slice(before)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    const grant = google.requests.find((r) => r.endpoint === "token");
    expect(grant).toMatchObject({ granted: true, scope: "https://www.googleapis.com/auth/devstorage.read_only" });
  });

  test("missing bucket, missing object and 403 name the cause", async () => {
    expect(await failure(fetchGcs("gs://nope/x.tar.gz", opts()))).toContain(`bucket "nope" does not exist`);
    expect(await failure(fetchGcs("gs://ctx/missing.tar.gz", opts()))).toContain(`no object "missing.tar.gz" in bucket "ctx"`);
    expect(await failure(fetchGcs("gs://ctx/secret.tar.gz", opts()))).toContain("access denied (403");
  });

  test("bad credentials: an unusable key file, and a server that refuses no token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-gcs-bad-"));
    writeFileSync(join(dir, "bad.json"), "{ not json");
    expect(await failure(fetchGcs("gs://ctx", opts({ GOOGLE_APPLICATION_CREDENTIALS: join(dir, "bad.json") })))).toContain("GOOGLE_APPLICATION_CREDENTIALS");
    expect(await failure(fetchGcs("gs://ctx", opts({ GOOGLE_APPLICATION_CREDENTIALS: "" })))).toContain("credentials were refused (401");
  });

  test("an unreachable endpoint", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const host = `127.0.0.1:${dead.port}`;
    dead.stop(true);
    expect(await failure(fetchGcs("gs://ctx", opts({ STORAGE_EMULATOR_HOST: host })))).toContain(`cannot reach http://${host}`);
  });
});
