// S3 for tests: s3rver (npm) in this process on 127.0.0.1, plus a loopback STS stand-in that answers
// AssumeRoleWithWebIdentity the way AWS does, so the SDK's web-identity (IRSA) chain can be exercised.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** s3rver's fixed credentials: it checks every signature against them. */
export const S3RVER_KEY = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const { default: S3rver } = await import("s3rver");
  const dir = mkdtempSync(join(tmpdir(), "kiln-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: S3RVER_KEY });
  return {
    endpoint,
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async stop() {
      client.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StsStandIn {
  /** http://127.0.0.1:PORT, for AWS_ENDPOINT_URL_STS */
  url: string;
  /** The web identity tokens it was shown, in order. */
  tokens: string[];
  stop(): void;
}

/** Hands out s3rver's key (with a session token) to whoever presents a web identity token for `roleArn`. */
export function startStsStandIn(roleArn: string): StsStandIn {
  const tokens: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const form = new URLSearchParams(req.method === "POST" ? await req.text() : new URL(req.url).search);
      if (form.get("Action") !== "AssumeRoleWithWebIdentity") return new Response("unsupported action", { status: 400 });
      tokens.push(form.get("WebIdentityToken") ?? "");
      if (form.get("RoleArn") !== roleArn) {
        return new Response(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to assume ${form.get("RoleArn")}</Message></Error></ErrorResponse>`, { status: 403, headers: { "content-type": "text/xml" } });
      }
      const expiry = new Date(Date.now() + 3600_000).toISOString();
      const xml = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials><AccessKeyId>${S3RVER_KEY.accessKeyId}</AccessKeyId><SecretAccessKey>${S3RVER_KEY.secretAccessKey}</SecretAccessKey><SessionToken>irsa-session</SessionToken><Expiration>${expiry}</Expiration></Credentials>
    <AssumedRoleUser><Arn>${roleArn}/kiln</Arn><AssumedRoleId>AROA0000:kiln</AssumedRoleId></AssumedRoleUser>
    <SubjectFromWebIdentityToken>system:serviceaccount:ci:kiln</SubjectFromWebIdentityToken>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>0</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
      return new Response(xml, { headers: { "content-type": "text/xml" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, tokens, stop: () => server.stop(true) };
}
