// s3://bucket[/key] build contexts (kaniko's s3.go): the object (key default "context.tar.gz") is streamed from S3
// through @aws-sdk/client-s3 with the SDK's default credential chain.
//
// Environment read (from opts.env):
//   S3_ENDPOINT            a custom endpoint (MinIO, Ceph, s3rver ...), as kaniko documents
//   S3_FORCE_PATH_STYLE    "true": path-style addressing (http://endpoint/bucket/key), as kaniko documents
//   AWS_REGION, AWS_DEFAULT_REGION   the region (default us-east-1; a bucket elsewhere is followed by its redirect)
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   static credentials, first in the chain
//   AWS_PROFILE            the profile of ~/.aws/config and ~/.aws/credentials
//   AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME   web identity (EKS IRSA)
//   AWS_ENDPOINT_URL_STS   the STS endpoint web identity calls
// The rest of the chain (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, SSO, credential_process, the container
// credentials AWS_CONTAINER_CREDENTIALS_*_URI, instance metadata and AWS_EC2_METADATA_DISABLED, AWS_ENDPOINT_URL*)
// is read by the SDK from process.env itself: it takes no such inputs. The CLI passes process.env as opts.env, so
// both views agree in a real run.
import { ContextError } from "./errors.ts";
import type { ArchiveFetcher, ContextFetchOptions } from "./source.ts";

type Env = ContextFetchOptions["env"];

export function parseS3Spec(spec: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!m) throw new ContextError(`--context ${spec}: expected s3://BUCKET/KEY.tar.gz`);
  return { bucket: m[1], key: m[2] || "context.tar.gz" };
}

async function credentialsFrom(env: Env, region: string) {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
  }
  const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  return fromNodeProviderChain({
    profile: env.AWS_PROFILE,
    webIdentityTokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE,
    roleArn: env.AWS_ROLE_ARN,
    roleSessionName: env.AWS_ROLE_SESSION_NAME,
    clientConfig: { region, endpoint: env.AWS_ENDPOINT_URL_STS || undefined },
  });
}

function explain(err: unknown, bucket: string, key: string, endpoint: string | undefined): string {
  const e = err as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? e.Code ?? "";
  const status = e.$metadata?.httpStatusCode;
  if (name === "NoSuchBucket") return `bucket "${bucket}" does not exist (check the name and AWS_REGION/S3_ENDPOINT)`;
  if (name === "NoSuchKey" || (status === 404 && name !== "NoSuchBucket")) return `no object "${key}" in bucket "${bucket}"`;
  if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidClientTokenId"].includes(name)) {
    return `the AWS credentials were refused (${name}): check the access key, secret and session token`;
  }
  if (name === "AccessDenied" || status === 403) return `access denied (${name || 403}): the credentials may not read s3://${bucket}/${key} (s3:GetObject)`;
  const code = e.code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ConnectionRefused" || code === "ETIMEDOUT") {
    return `cannot reach ${endpoint ?? "S3"} (${code}): check S3_ENDPOINT and the network`;
  }
  return `${name || "error"}: ${e.message ?? String(err)}`;
}

export const fetchS3: ArchiveFetcher = async (spec, opts) => {
  const { bucket, key } = parseS3Spec(spec);
  const env = opts.env;
  const endpoint = env.S3_ENDPOINT || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const credentials = await credentialsFrom(env, region);
  if (typeof credentials === "function") {
    // Resolved ahead (the chain memoizes), so a failing chain (STS refusing the role, ...) is reported as such.
    try {
      await credentials();
    } catch (err) {
      const e = err as Error;
      throw new ContextError(`--context ${spec}: no usable AWS credentials (static keys, AWS_PROFILE, web identity/IRSA, container or instance role): ${e.name}: ${e.message.split("\n")[0]}`);
    }
  }
  // Start-up time: the SDK is loaded only when an s3:// context is used.
  const { S3Client, GetObjectCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    region,
    endpoint,
    // kaniko sets path style only together with its endpoint resolver.
    forcePathStyle: endpoint !== undefined && env.S3_FORCE_PATH_STYLE === "true",
    followRegionRedirects: true,
    credentials,
    maxAttempts: 2,
  });
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: opts.signal });
    if (!out.Body) throw new Error("empty response body");
    return { stream: out.Body.transformToWebStream() as ReadableStream<Uint8Array>, describe: spec };
  } catch (err) {
    client.destroy();
    throw new ContextError(`--context ${spec}: ${explain(err, bucket, key, endpoint)}`);
  }
};
