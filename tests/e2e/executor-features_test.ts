// Issue 14's and 17's features inside the executor image, run as a container runs it (tests/support/container.ts:
// its own root, never the host's): an s3:// context, an ECR push with only IRSA's environment, and a two-platform
// build in place. /kaniko/executor is a `bun build --compile --splitting` binary whose cloud SDKs are chunks inside
// it; nothing here may need node_modules or a file outside the image. One image build serves every test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { inspectOciLayout, inspectRegistryImage, runTool, type InspectedImage } from "../support/image-assert.ts";
import { makeContext } from "../support/kiln.ts";
import { contextTarGz } from "../support/context-archives.ts";
import { runContainer, useExecutorImages } from "../support/container.ts";
import { S3RVER_KEY, startS3Server, type S3Server } from "../support/s3-server.ts";
import { startCloudRegistry, startEcrStandIn, startStsStandIn, type CloudRegistry, type EcrStandIn, type StsStandIn } from "../support/cloud-registry.ts";
import { pushBusyboxIndex } from "../support/base-images.ts";
import { ensureArm64Emulation } from "../support/binfmt.ts";

const fx = useExecutorImages();
const { cleanup, inspected } = fx;
const KANIKO_DIR = [".docker", "executor", "lib", "ssl", "warmer"];

/** A fresh container root: the executor image unpacked (umoci), with its Env and Entrypoint. */
async function container(): Promise<{ rootfs: string; env: string[]; entrypoint: string[] }> {
  const img = await inspectOciLayout(join(fx.imagesDir, "executor"), "latest");
  inspected.push(img);
  return { rootfs: img.rootfsDir, env: img.config.config.Env, entrypoint: img.config.config.Entrypoint };
}

async function pushed(ref: string, opts: Parameters<typeof inspectRegistryImage>[1] = {}): Promise<InspectedImage> {
  const img = await inspectRegistryImage(ref, opts);
  inspected.push(img);
  return img;
}

describe("s3:// context in the executor image", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server(["ctx"]);
    await s3.put("ctx", "app/context.tar.gz", contextTarGz({
      "Dockerfile": "FROM scratch\nCOPY . /wrong\n",
      "svc/Dockerfile": `FROM ${fx.base}\nCOPY msg.txt /app/msg.txt\nRUN cat /app/msg.txt > /app/seen.txt\n`,
      "svc/msg.txt": "from s3\n",
    }));
  }, 60_000);
  afterAll(async () => { await s3?.stop(); });

  test("fetches the archive with static keys, builds the Dockerfile in --context-sub-path in place, pushes", async () => {
    const { rootfs, env, entrypoint } = await container();
    const ctx = makeContext({});
    cleanup.push(ctx);
    const dest = `${fx.reg.host}/from-s3:v1`;
    const r = await runContainer(rootfs, ctx, [...env, `S3_ENDPOINT=${s3.endpoint}`, "S3_FORCE_PATH_STYLE=true", "AWS_REGION=us-east-1",
      `AWS_ACCESS_KEY_ID=${S3RVER_KEY.accessKeyId}`, `AWS_SECRET_ACCESS_KEY=${S3RVER_KEY.secretAccessKey}`, "AWS_EC2_METADATA_DISABLED=true"], [
      ...entrypoint, "--context", "s3://ctx/app/context.tar.gz", "--context-sub-path", "svc", "--destination", dest,
      "--insecure", "--insecure-pull", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const img = await pushed(dest);
    expect(img.files.get("/app/msg.txt")?.content).toBe("from s3\n");
    expect(img.files.get("/app/seen.txt")?.content).toBe("from s3\n");
    expect(img.files.get("/bin/busybox")?.type).toBe("file");
    for (const p of ["/wrong", "/app/Dockerfile", "/svc", "/kaniko", "/workspace"]) expect(img.files.get(p)).toBeUndefined();
    // The fetched context went with the build: kiln's directory holds only the image's own files.
    expect(readdirSync(join(rootfs, "kaniko")).sort()).toEqual(KANIKO_DIR);
  }, 120_000);
});

describe("ECR push in the executor image with IRSA's environment only", () => {
  const ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
  // Where EKS projects the service-account token; under /var/run, which an in-place build never wipes.
  const TOKEN_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
  let reg: CloudRegistry, sts: StsStandIn, ecr: EcrStandIn;
  beforeAll(async () => {
    reg = await startCloudRegistry(ECR_HOST, { auth: "htpasswd", username: "AWS" });
    sts = startStsStandIn();
    ecr = startEcrStandIn(() => sts.issued, reg.registry.password!);
  }, 60_000);
  afterAll(async () => { await Promise.all([reg?.stop(), sts?.stop(), ecr?.stop()]); });

  test("the registry's CA in /kaniko/ssl/certs, its name in the container's /etc/hosts: STS, ECR, push", async () => {
    const { rootfs, env, entrypoint } = await container();
    // What the cluster provides: name resolution, the projected token; what kaniko users add: the CA.
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    writeFileSync(join(rootfs, "etc/hosts"), `127.0.0.1 localhost\n127.0.0.1 ${ECR_HOST}\n`);
    mkdirSync(join(rootfs, dirname(TOKEN_PATH)), { recursive: true });
    writeFileSync(join(rootfs, TOKEN_PATH), await Bun.file(sts.tokenFile).text());
    writeFileSync(join(rootfs, "kaniko/ssl/certs/ecr-ca.crt"), await Bun.file(reg.registry.caFile!).text());
    const ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hello from the executor\n" });
    cleanup.push(ctx);
    const irsa = { ...sts.irsaEnv(), AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN_PATH, AWS_ENDPOINT_URL_ECR: ecr.url };
    const r = await runContainer(rootfs, ctx, [...env, ...Object.entries(irsa).map(([k, v]) => `${k}=${v}`)], [
      ...entrypoint, "--context", "dir:///workspace", "--destination", `${reg.name}/app/irsa:1`, "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    // The ECR call was signed with the session STS issued for the projected token, in the host name's region.
    expect(ecr.calls.map((c) => [c.target, c.accessKeyId, c.region, c.granted])).toEqual([
      ["AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", sts.issued.at(-1)!.accessKeyId, "eu-west-1", true],
    ]);
    const img = await pushed(`${reg.registry.host}/app/irsa:1`, { tlsVerify: false, creds: `AWS:${reg.registry.password}` });
    expect(img.files.get("/hello.txt")?.content).toBe("hello from the executor\n");
  }, 120_000);
});

describe("--platform linux/amd64,linux/arm64 in the executor image (in place)", () => {
  let multiBase: string;
  beforeAll(async () => {
    const why = ensureArm64Emulation();
    if (why) throw new Error(why);
    multiBase = await pushBusyboxIndex(fx.reg);
  }, 120_000);

  test("builds the platforms one after another on its one root, each from a clean base, and pushes an index", async () => {
    const { rootfs, env, entrypoint } = await container();
    // Each RUN lists the root it started from, then leaves a marker naming its machine.
    const ctx = makeContext({ Dockerfile: `FROM ${multiBase}\nRUN ls / > /root-before && uname -m > /arch && touch /seen-$(uname -m)\n` });
    cleanup.push(ctx);
    const dest = `${fx.reg.host}/multi-inplace:v1`;
    const r = await runContainer(rootfs, ctx, env, [
      ...entrypoint, "--context", "dir:///workspace", "--platform", "linux/amd64,linux/arm64", "--destination", dest,
      "--insecure", "--insecure-pull", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const index = JSON.parse(await runTool(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${dest}`]));
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const byArch = new Map<string, string>(index.manifests.map((m: { digest: string; platform: { os: string; architecture: string } }) =>
      [`${m.platform.os}/${m.platform.architecture}`, m.digest]));
    expect([...byArch.keys()].sort()).toEqual(["linux/amd64", "linux/arm64"]);
    const images: Record<string, InspectedImage> = {};
    for (const [arch, machine] of [["amd64", "x86_64"], ["arm64", "aarch64"]]) {
      const img = await pushed(`${fx.reg.host}/multi-inplace@${byArch.get(`linux/${arch}`)}`, { tlsVerify: false });
      images[arch] = img;
      expect(img.config.architecture).toBe(arch);
      expect(img.files.get("/arch")?.content).toBe(`${machine}\n`);
      expect(img.files.get(`/seen-${machine}`)?.type).toBe("file");
      expect(await runTool(["file", "-L", join(img.rootfsDir, "bin/busybox")])).toContain(arch === "amd64" ? "x86-64" : "ARM aarch64");
    }
    // The second platform's root was wiped of the first's files before its base was unpacked: neither its RUN
    // nor any of its layers saw the other machine's marker.
    for (const img of Object.values(images)) {
      const listing = img.files.get("/root-before")!.content!.split("\n");
      expect(listing).toContain("bin");
      expect(listing.filter((n) => n.startsWith("seen-") || n === "arch")).toEqual([]);
    }
    expect(images.amd64.files.get("/seen-aarch64")).toBeUndefined();
    expect(images.arm64.files.get("/seen-x86_64")).toBeUndefined();
    // One platform after the other, as the README says: amd64's build ends (its snapshot) before arm64's starts,
    // and arm64's takes the one root over from it.
    const at = (s: string) => r.stderr.indexOf(s);
    const armStarts = at("Building stage 0 for linux/arm64");
    expect(at("Building stage 0 for linux/amd64")).toBeGreaterThanOrEqual(0);
    expect(at("Building stage 0 for linux/amd64")).toBeLessThan(at("snapshot:"));
    expect(at("snapshot:")).toBeLessThan(armStarts);
    expect(r.stderr.lastIndexOf("Building stage 0 for linux/amd64")).toBeLessThan(armStarts);
    expect(r.stderr.indexOf("Deleting the filesystem of the previous stage", armStarts)).toBeGreaterThan(armStarts);
    expect(r.stderr.match(/snapshot:/g)?.length).toBe(2);
  }, 300_000);
});

test("the host's root holds none of the builds' files", () => {
  expect(inspected.length).toBeGreaterThan(3); // the tests above ran
  for (const p of ["/arch", "/root-before", "/seen-x86_64", "/seen-aarch64", "/hello.txt", "/app/seen.txt"]) expect(existsSync(p)).toBe(false);
});
