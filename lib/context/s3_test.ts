// fetchS3 against s3rver on loopback: objects stream back; missing bucket/key, refused keys, a dead endpoint and
// IRSA-style web identity through a loopback STS stand-in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchS3, parseS3Spec } from "./s3.ts";
import type { ContextFetchOptions } from "./source.ts";
import { S3RVER_KEY, startS3Server, startStsStandIn, type S3Server } from "../../tests/support/s3-server.ts";
import { contextFailure as failure, contextTarGz, listTarGz } from "../../tests/support/context-tar.ts";

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server(["ctx"]);
  const tgz = await contextTarGz({ Dockerfile: "FROM scratch\n", "app/a.txt": "hello" });
  await s3.put("ctx", "context.tar.gz", tgz);
  await s3.put("ctx", "dir/other.tar.gz", tgz);
});
afterAll(() => s3.stop());

// Nothing from the test process's own environment: the fetcher must work from opts.env alone.
function opts(env: Record<string, string>): ContextFetchOptions {
  return { env: { S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: "true", AWS_REGION: "us-east-1", ...env }, git: {}, maxBytes: 1 << 30 };
}
const KEYS = { AWS_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey };

describe("s3:// contexts", () => {
  test("spec: key defaults to context.tar.gz as in kaniko", () => {
    expect(parseS3Spec("s3://b")).toEqual({ bucket: "b", key: "context.tar.gz" });
    expect(parseS3Spec("s3://b/p/x.tar.gz")).toEqual({ bucket: "b", key: "p/x.tar.gz" });
  });

  test("streams the object with static keys, default and explicit key", async () => {
    for (const spec of ["s3://ctx", "s3://ctx/dir/other.tar.gz"]) {
      const src = await fetchS3(spec, opts(KEYS));
      expect(src.describe).toBe(spec);
      expect(await listTarGz(src.stream)).toEqual(["Dockerfile=FROM scratch", "app/a.txt=hello"]);
    }
  });

  test("missing bucket and missing key name what is missing", async () => {
    expect(await failure(fetchS3("s3://nope/context.tar.gz", opts(KEYS)))).toContain(`bucket "nope" does not exist`);
    expect(await failure(fetchS3("s3://ctx/missing.tar.gz", opts(KEYS)))).toContain(`no object "missing.tar.gz" in bucket "ctx"`);
  });

  test("refused credentials and an unreachable endpoint", async () => {
    const bad = await failure(fetchS3("s3://ctx", opts({ AWS_ACCESS_KEY_ID: "NOT-S3RVER", AWS_SECRET_ACCESS_KEY: "wrong" })));
    expect(bad).toContain("credentials were refused");
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const url = `http://127.0.0.1:${dead.port}`;
    dead.stop(true);
    expect(await failure(fetchS3("s3://ctx", { ...opts(KEYS), env: { ...opts(KEYS).env, S3_ENDPOINT: url } }))).toContain(`cannot reach ${url}`);
  });

  test("web identity (IRSA): the token file goes to STS and the role's keys read the object", async () => {
    const role = "arn:aws:iam::123456789012:role/kiln-ci";
    const sts = startStsStandIn(role);
    try {
      const tokenFile = join(mkdtempSync(join(tmpdir(), "kiln-irsa-")), "token");
      writeFileSync(tokenFile, "eyJprojected.sa.token");
      const env = { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: role, AWS_ENDPOINT_URL_STS: sts.url };
      const src = await fetchS3("s3://ctx", opts(env));
      expect(await listTarGz(src.stream)).toContain("Dockerfile=FROM scratch");
      expect(sts.tokens).toEqual(["eyJprojected.sa.token"]);
      const denied = await failure(fetchS3("s3://ctx", opts({ ...env, AWS_ROLE_ARN: "arn:aws:iam::1:role/other" })));
      expect(denied).toContain("no usable AWS credentials");
      expect(denied).toContain("AccessDenied");
    } finally {
      sts.stop();
    }
  });
});
