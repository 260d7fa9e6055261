// s3://, gs:// and Azure Blob build contexts with the compiled binary, against s3rver, a GCS stand-in and azurite
// on 127.0.0.1. The context archive holds a Dockerfile at the top and another in sub/ (for --context-sub-path);
// each is `FROM scratch` + `COPY . /ctx`, and the image's one layer is read from the OCI layout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runKiln } from "../support/kiln.ts";
import { useTempDirs } from "../support/e2e.ts";
import { contextTarGz } from "../support/context-tar.ts";
import { S3RVER_KEY, startS3Server, startStsStandIn, type S3Server, type StsStandIn } from "../support/s3-server.ts";
import { startGcsServer, type GcsServer } from "../support/gcs-server.ts";
import { startGcpStandin, type GcpStandin } from "../support/gcp-standin.ts";
import { AZURITE_KEY, startAzurite, type AzuriteServer } from "../support/azurite-server.ts";

const ROLE = "arn:aws:iam::123456789012:role/kiln-ci";
const GCS_TOKEN = "ya29.kiln-e2e";
let s3: S3Server;
let sts: StsStandIn;
let gcs: GcsServer;
let google: GcpStandin;
let az: AzuriteServer;
let keyFile: string;
let tokenFile: string;
const { tmp: temp } = useTempDirs();

beforeAll(async () => {
  const tgz = await contextTarGz({
    Dockerfile: "FROM scratch\nCOPY . /ctx\n",
    "top.txt": "top",
    "sub/Dockerfile": "FROM scratch\nCOPY . /ctx\n",
    "sub/inner.txt": "inner",
  });
  [s3, az] = await Promise.all([startS3Server(["ctx"]), startAzurite()]);
  await s3.put("ctx", "context.tar.gz", tgz);
  await az.put("ctx", "path/context.tar.gz", tgz);
  sts = startStsStandIn(ROLE);
  gcs = startGcsServer({ token: GCS_TOKEN });
  gcs.put("ctx", "path/context.tar.gz", tgz);
  google = startGcpStandin({ token: GCS_TOKEN });
  const secrets = temp("kiln-e2e-cloudctx-secrets-");
  keyFile = await google.writeServiceAccount(secrets);
  tokenFile = join(secrets, "token");
  writeFileSync(tokenFile, "eyJprojected.sa.token");
}, 60_000);
afterAll(async () => {
  await Promise.all([s3?.stop(), az?.stop()]);
  sts?.stop();
  gcs?.stop();
  google?.stop();
});

function sh(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** Builds with dist/kiln; on success, the regular files of the image's one layer as "path=content". */
async function build(args: string[], env: Record<string, string>) {
  const out = temp("kiln-e2e-cloudctx-out-");
  const work = join(out, "kiln");
  const r = await runKiln([...args, "--no-push", "--oci-layout-path", join(out, "oci"), "--kaniko-dir", work], { flavour: "binary", env });
  if (r.code !== 0) return { ...r, work, files: [] as string[] };
  const blob = (d: string) => join(out, "oci/blobs", ...d.split(":"));
  const index = JSON.parse(await Bun.file(join(out, "oci/index.json")).text());
  const manifest = JSON.parse(await Bun.file(blob(index.manifests[0].digest)).text());
  const layer = blob(manifest.layers[0].digest);
  const names = sh(["tar", "-tzf", layer]).split("\n").filter((p) => p.endsWith(".txt"));
  const files = names.map((n) => `${n}=${sh(["tar", "-xzOf", layer, n]).trim()}`).sort();
  return { ...r, work, files };
}

const S3_ENV = () => ({ S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: "true", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" });
const ALL = ["ctx/sub/inner.txt=inner", "ctx/top.txt=top"];

/** A failed build: non-zero, one error line naming the source, no context left in the work dir. */
function expectFailure(r: { code: number; stderr: string; work: string }, spec: string, what: string) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.split("\n").filter((l) => l.includes(spec));
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines.some((l) => l.includes(what))).toBe(true);
  let left: string[] = [];
  try { left = readdirSync(r.work).filter((e) => e.startsWith("context")); } catch { /* never created */ }
  expect(left).toEqual([]);
}

describe("cloud storage contexts (dist/kiln)", () => {
  test("s3:// with static keys, the default key name, and --context-sub-path", async () => {
    const env = { ...S3_ENV(), AWS_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey };
    const r = await build(["--context", "s3://ctx"], env);
    expect(r.code).toBe(0);
    expect(r.files).toEqual(ALL);
    expect((await build(["--context", "s3://ctx/context.tar.gz", "--context-sub-path", "sub"], env)).files).toEqual(["ctx/inner.txt=inner"]);
  });

  test("s3:// through web identity (IRSA): token file + role ARN, STS on loopback", async () => {
    const r = await build(["--context", "s3://ctx/context.tar.gz"], { ...S3_ENV(), AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: ROLE, AWS_ENDPOINT_URL_STS: sts.url });
    expect(r.files).toEqual(ALL);
    expect(sts.tokens).toContain("eyJprojected.sa.token");
  });

  test("s3:// failures: a missing bucket, refused keys", async () => {
    const env = { ...S3_ENV(), AWS_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey };
    expectFailure(await build(["--context", "s3://nope/context.tar.gz"], env), "s3://nope/context.tar.gz", `bucket "nope" does not exist`);
    expectFailure(await build(["--context", "s3://ctx"], { ...env, AWS_ACCESS_KEY_ID: "WRONG" }), "s3://ctx", "credentials were refused");
  });

  test("gs:// with a service-account key: its token reaches GCS; sub-path; a missing object", async () => {
    const env = { STORAGE_EMULATOR_HOST: gcs.url, GOOGLE_APPLICATION_CREDENTIALS: keyFile };
    expect((await build(["--context", "gs://ctx/path/context.tar.gz"], env)).files).toEqual(ALL);
    expect(gcs.authorizations.at(-1)).toBe(`Bearer ${GCS_TOKEN}`);
    expect((await build(["--context", "gs://ctx/path/context.tar.gz", "--context-sub-path", "sub"], env)).files).toEqual(["ctx/inner.txt=inner"]);
    expectFailure(await build(["--context", "gs://ctx/none.tar.gz"], env), "gs://ctx/none.tar.gz", `no object "none.tar.gz"`);
  });

  test("Azure Blob with AZURE_STORAGE_ACCESS_KEY, and the connection-string form; a wrong key", async () => {
    const url = "https://devstoreaccount1.blob.core.windows.net/ctx/path/context.tar.gz";
    const mapped = { AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${az.blobEndpoint}` };
    expect((await build(["--context", url], { ...mapped, AZURE_STORAGE_ACCESS_KEY: AZURITE_KEY })).files).toEqual(ALL);
    expect((await build(["--context", url, "--context-sub-path", "sub"], { AZURE_STORAGE_CONNECTION_STRING: az.connectionString })).files).toEqual(["ctx/inner.txt=inner"]);
    expectFailure(await build(["--context", url], { ...mapped, AZURE_STORAGE_ACCESS_KEY: Buffer.from("wrong").toString("base64") }), url, "access denied");
  });
});
