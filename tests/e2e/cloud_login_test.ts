// Registry logins without config.json: ECR through the AWS SDK's credential chain (IRSA here), against the real
// registry reached under an ECR host name (tests/support/cloud-registry.ts), with loopback stand-ins for STS and the
// ECR API. The compiled binary runs as users run it, in the isolated mode.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  hostsFile, isolatedCloudEnv, runKilnWithHosts, startCloudRegistry, startEcrStandIn, startStsStandIn,
  type CloudRegistry, type EcrStandIn, type StsStandIn,
} from "../support/cloud-registry.ts";
import { runTool } from "../support/image-assert.ts";
import { makeContext, REPO } from "../support/kiln.ts";
import { MANIFEST_ACCEPT } from "../support/registry.ts";

setDefaultTimeout(120_000);

// eu-west-1 while AWS_REGION says us-east-1: the region comes from the host name.
const ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

describe("ECR login with the AWS credential chain", () => {
  let reg: CloudRegistry, sts: StsStandIn, ecr: EcrStandIn, hosts: string, ctx: string, home: string;
  const cleanup: string[] = [];

  beforeAll(async () => {
    reg = await startCloudRegistry(ECR_HOST, { auth: "htpasswd", username: "AWS" });
    sts = startStsStandIn();
    ecr = startEcrStandIn(() => sts.issued, reg.registry.password!);
    hosts = hostsFile([ECR_HOST]);
    ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hello from kiln\n" });
    cleanup.push(dirname(hosts), ctx);
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), sts?.stop(), ecr?.stop()]);
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  const freshHome = () => {
    const d = mkdtempSync(join(tmpdir(), "kiln-cloud-home-"));
    cleanup.push(d);
    return d;
  };
  /** Builds ctx and pushes to each destination (repositories under the ECR name) with exactly `env`. */
  const build = (destinations: string[], env: Record<string, string>) => runKilnWithHosts(hosts, [
    "-c", ctx, ...destinations.flatMap((d) => ["-d", `${reg.name}/${d}`]), reg.certificateFlag,
  ], { ...isolatedCloudEnv(env.HOME ?? freshHome()), AWS_ENDPOINT_URL_ECR: ecr.url, ...env });
  /** The manifest status of repo:tag, asked of the registry directly with the password ECR's token carries. */
  const status = async (repoTag: string) => {
    const [repo, tag] = repoTag.split(":");
    const r = await fetch(`${reg.registry.url}/v2/${repo}/manifests/${tag}`, {
      method: "HEAD", headers: { Accept: MANIFEST_ACCEPT, Authorization: `Basic ${btoa(`AWS:${reg.registry.password}`)}` },
      tls: { ca: await Bun.file(reg.registry.caFile!).text() },
    } as RequestInit);
    return r.status;
  };
  const counts = () => ({ sts: sts.calls, ecr: ecr.calls.length });

  test("IRSA's environment alone (no config.json) pushes; skopeo sees the image with ECR's credentials", async () => {
    const before = counts();
    const r = await build(["app/irsa:1"], sts.irsaEnv());
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    const info = JSON.parse(await runTool(["skopeo", "inspect", "--tls-verify=false", "--creds", `AWS:${reg.registry.password}`,
      `docker://${reg.registry.host}/app/irsa:1`]));
    expect(info.Layers.length).toBe(1);
    // The ECR call was signed with the key STS issued for the web identity token.
    const last = ecr.calls.at(-1)!;
    expect(last).toEqual({
      target: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", accessKeyId: sts.issued.at(-1)!.accessKeyId, region: "eu-west-1", granted: true,
    });
    expect(counts()).toEqual({ sts: before.sts + 1, ecr: before.ecr + 1 });
  });

  test("ECR Public (public.ecr.aws): the same chain, the ECR Public API in us-east-1", async () => {
    const pub = await startCloudRegistry("public.ecr.aws", { auth: "htpasswd", username: "AWS" });
    const pubEcr = startEcrStandIn(() => sts.issued, pub.registry.password!);
    const pubHosts = hostsFile(["public.ecr.aws"]);
    try {
      const r = await runKilnWithHosts(pubHosts, ["-c", ctx, "-d", `${pub.name}/gallery/app:1`, pub.certificateFlag],
        { ...isolatedCloudEnv(freshHome()), ...sts.irsaEnv(), AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_ECR_PUBLIC: pubEcr.url });
      if (r.code !== 0) console.error(r.stderr);
      expect(r.code).toBe(0);
      expect(pubEcr.calls.map((c) => [c.target, c.region, c.granted])).toEqual([["SpencerFrontendService.GetAuthorizationToken", "us-east-1", true]]);
    } finally {
      await Promise.all([pub.stop(), pubEcr.stop()]);
      rmSync(dirname(pubHosts), { recursive: true, force: true });
    }
  });

  test("config.json credHelpers naming ecr-login works with no docker-credential-ecr-login on PATH", async () => {
    const home = freshHome();
    const docker = join(home, "docker");
    mkdirSync(docker);
    // A wrong auths entry for the same host proves the helper (the built-in provider) answered, as docker prefers it.
    writeFileSync(join(docker, "config.json"), JSON.stringify({
      credHelpers: { [reg.name]: "ecr-login" },
      auths: { [reg.name]: { auth: btoa("AWS:wrong") } },
    }));
    const r = await build(["app/helper:1"], { ...sts.irsaEnv(), HOME: home, DOCKER_CONFIG: docker, PATH: "/usr/bin:/bin" });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(await status("app/helper:1")).toBe(200);
  });

  test("two destinations in the same registry: STS and ECR are asked once per build", async () => {
    const before = counts();
    const r = await build(["app/one:1", "app/two:1"], sts.irsaEnv());
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect([await status("app/one:1"), await status("app/two:1")]).toEqual([200, 200]);
    expect(counts()).toEqual({ sts: before.sts + 1, ecr: before.ecr + 1 });
  });

  test("a web identity STS refuses, or no AWS identity at all: one clear line naming the registry, no tag pushed", async () => {
    const badToken = join(freshHome(), "token");
    writeFileSync(badToken, "not-the-projected-token");
    const refused = await build(["app/refused:1"], { ...sts.irsaEnv(), AWS_WEB_IDENTITY_TOKEN_FILE: badToken });
    expect(refused.code).not.toBe(0);
    const refusedLines = refused.stderr.trim().split("\n").filter((l) => /error/i.test(l));
    expect(refusedLines.length).toBe(1);
    expect(refusedLines[0]).toContain(`ECR login for ${reg.name} failed`);
    expect(refusedLines[0]).toContain("AccessDenied");

    const none = await build(["app/none:1"], {});
    expect(none.code).not.toBe(0);
    const noneLines = none.stderr.trim().split("\n").filter((l) => /error/i.test(l));
    expect(noneLines.length).toBe(1);
    expect(noneLines[0]).toContain(`no AWS credentials for ${reg.name}`);
    expect(noneLines[0]).toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
    expect([await status("app/refused:1"), await status("app/none:1")]).toEqual([404, 404]);
  });
});

test("`kiln version` loads no cloud SDK (they are imported when a registry or context needs them)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sdk-guard-"));
  try {
    const guard = join(dir, "guard.ts");
    writeFileSync(guard, `import { plugin } from "bun";
plugin({ name: "sdk-guard", setup(b) {
  b.onLoad({ filter: /node_modules\\/(@aws-sdk|@smithy|google-auth-library|@azure)\\// }, (a) => { console.error("SDK LOADED " + a.path); process.exit(9); });
} });
`);
    const p = Bun.spawnSync([process.execPath, "--preload", guard, join(REPO, "cli/main.ts"), "version"], { stderr: "pipe", stdout: "pipe" });
    expect(p.stderr.toString()).not.toContain("SDK LOADED");
    expect(p.exitCode).toBe(0);
    // The guard itself works: importing the ECR login trips it.
    const q = Bun.spawnSync([process.execPath, "--preload", guard, "-e", `await import(${JSON.stringify(join(REPO, "lib/registry/ecr.ts"))})`], { stderr: "pipe" });
    expect(q.stderr.toString()).toContain("SDK LOADED");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
