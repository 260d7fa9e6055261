// The deployment examples, run for real: examples/kubernetes/pod.yaml and job.yaml under `podman kube play`, and
// examples/gitlab-ci.yml's job script in the debug image, with kiln's images (scripts/images.sh) loaded into a
// private podman. The examples are used as they are apart from the image names and addresses: "REGISTRY" becomes
// a TLS registry with Basic auth on 127.0.0.1 (its CA added to /kaniko/ssl/certs of the images, as a private CA
// is in practice), and the init container clones from a git server on 127.0.0.1 with an alpine/git stand-in made
// from this host's git. What podman 4.3 does not do as Kubernetes does is shimmed in `forPodman` and named there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { cleanupInspected, inspectRegistryImage, runTool, type InspectedImage, type RegistryAccess } from "../support/image-assert.ts";
import { registryCertDir } from "../support/base-images.ts";
import { startGitServer, type GitServer } from "../support/git-server.ts";
import { ensureBinary, makeContext, REPO } from "../support/kiln.ts";
import { requirePodmanTools, startPodman, type TestPodman } from "../support/podman.ts";

// A missing podman fails the file, before the registry below is started (a failing beforeAll stops the later ones).
beforeAll(requirePodmanTools);

const env = useBusyboxRegistry({ tls: true, auth: "htpasswd" });
let podman: TestPodman;
let git: GitServer;
let access: RegistryAccess;
const inspected: InspectedImage[] = [];

const example = (rel: string) => readFileSync(join(REPO, "examples", rel), "utf8");
const APP_SH = 'echo "app built from $0"\n';
const dockerfile = () => `FROM ${env.base}\nCOPY app.sh /app/app.sh\nRUN sh /app/app.sh > /app/built.txt\n`;

/** A git checkout's files as a bare repository served by `git`, at <url>/app.git. */
async function gitRepo(files: Record<string, string>): Promise<string> {
  const work = env.keep(makeContext(files)), root = env.tmp("kiln-git-");
  const g = (...a: string[]) => runTool(["git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@example.invalid", ...a]);
  await g("init", "-q", "-b", "main");
  await g("add", ".");
  await g("commit", "-q", "-m", "app");
  await runTool(["git", "clone", "-q", "--bare", work, join(root, "app.git")]);
  return root;
}

/** kiln's image from its OCI layout, with the test CA trusted, stored as `name`. */
async function loadKilnImage(layout: string, name: string): Promise<void> {
  const id = (await podman.ok(["pull", "-q", `oci:${layout}:latest`])).trim().split("\n").pop();
  const ctx = env.tmp("kiln-ca-image-");
  writeFileSync(join(ctx, "test-ca.crt"), readFileSync(env.reg.caFile!));
  writeFileSync(join(ctx, "Containerfile"), `FROM ${id}\nCOPY test-ca.crt /kaniko/ssl/certs/kiln-test-ca.crt\n`);
  await podman.ok(["build", "-q", "--pull=never", "-t", name, ctx]);
}

/** The alpine/git image pod.yaml's init container uses, from this host's git (offline), entrypoint git. */
async function loadGitImage(name: string): Promise<void> {
  const root = env.tmp("kiln-gitroot-");
  const copy = (f: string) => { mkdirSync(dirname(join(root, f)), { recursive: true }); writeFileSync(join(root, f), readFileSync(f), { mode: 0o755 }); };
  for (const bin of ["/usr/bin/git", "/usr/lib/git-core/git-remote-http"]) {
    copy(bin);
    const ldd = await runTool(["ldd", bin]);
    for (const m of ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)) copy(m[1]);
  }
  mkdirSync(join(root, "tmp"), { mode: 0o1777 });
  const tar = join(env.tmp("kiln-gittar-"), "git.tar");
  await runTool(["tar", "-C", root, "-cf", tar, "."]);
  await podman.ok(["import", "-q", "--change", 'ENTRYPOINT ["git"]', "--change", "ENV PATH=/usr/bin:/bin", tar, name]);
}

const dockerConfigJson = () => JSON.stringify({ auths: { [env.reg.host]: { auth: btoa(`${env.reg.username}:${env.reg.password}`) } } });

/**
 * A Pod (and what it mounts) as podman 4.3's `kube play` can run it like a kubelet would:
 * - secret volumes become ConfigMap volumes with the same name, key and items: podman 4.3's secret volumes ignore
 *   `items` (the file would be named .dockerconfigjson), write the data still base64-encoded, and crash when
 *   `optional` is unset. The ConfigMap holds what `kubectl create secret docker-registry regcred` would.
 * - $(VAR) in args is expanded from the container's env, as the kubelet does; podman 4.3 passes it on verbatim.
 */
function forPodman(pod: any, configMaps: Record<string, Record<string, string>>): string {
  const docs: any[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (!v.secret) continue;
    const { secretName, items } = v.secret;
    delete v.secret;
    v.configMap = { name: secretName, ...(items ? { items } : {}) };
    configMaps[secretName] ??= { ".dockerconfigjson": dockerConfigJson() };
  }
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    const vars = Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
    c.args = c.args?.map((a: string) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => vars[n] ?? m));
  }
  for (const [name, data] of Object.entries(configMaps)) docs.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data });
  docs.push(pod);
  return docs.map((d) => JSON.stringify(d, null, 1)).join("\n---\n");
}

/** Plays `yaml`, waits for the pod's kiln container to exit and returns its exit code and log. */
async function play(yaml: string, pod: string): Promise<{ code: number; log: string }> {
  const file = join(podman.dir, `${pod}.yaml`);
  writeFileSync(file, yaml);
  try {
    await podman.ok(["kube", "play", "--network", "host", file]);
    const waited = await podman.run(["wait", `${pod}-kiln`]);
    const logs = await podman.run(["logs", `${pod}-kiln`]);
    expect(waited.stderr).toBe("");
    return { code: Number(waited.stdout.trim()), log: logs.stdout + logs.stderr };
  } finally {
    await podman.run(["pod", "rm", "--force", "--time", "0", pod]);
  }
}

/** Exit 0 with no error logged; the output otherwise, for the reader of a failure. */
function expectSuccess(r: { code: number; log: string }): void {
  if (r.code !== 0 || r.log.includes("ERROR")) throw new Error(`exit ${r.code}, output:\n${r.log}`);
}

/** `ref` was pushed (the log says so) and holds what the Dockerfile made. */
async function expectApp(ref: string, log: string): Promise<void> {
  expect(log).toContain(`Pushed ${ref}`);
  const img = await inspectRegistryImage(ref, access);
  inspected.push(img);
  expect(img.files.get("/app/built.txt")?.content).toBe("app built from /app/app.sh\n");
  expect(img.files.get("/bin/busybox")?.type).toBe("file");
  for (const p of ["/kaniko", "/workspace/Dockerfile", "/busybox"]) expect(img.files.get(p)).toBeUndefined();
}

describe("the deployment examples under podman", () => {
  beforeAll(async () => {
    await ensureBinary();
    // podman names an image pulled from a layout after its path, which must then be lowercase.
    const images = env.keep(join(tmpdir(), `kiln-images-${process.pid}-${Date.now().toString(36)}`));
    await runTool(["bash", join(REPO, "scripts/images.sh"), "--out", images], { cwd: REPO });
    podman = await startPodman();
    const certDir = env.keep((await registryCertDir(env.reg))!);
    access = { creds: `${env.reg.username}:${env.reg.password}`, certDir };
    // Stored under the names the examples use, so that podman finds them and pulls nothing.
    const pod = Bun.YAML.parse(example("kubernetes/pod.yaml")) as any;
    const reg = (s: string) => s.replaceAll("REGISTRY", env.reg.host);
    await loadKilnImage(join(images, "executor"), reg(pod.spec.containers[0].image));
    await loadKilnImage(join(images, "debug"), reg((Bun.YAML.parse(example("gitlab-ci.yml")) as any).build.image.name));
    await loadGitImage(`docker.io/${pod.spec.initContainers[0].image}`);
    git = startGitServer(await gitRepo({ Dockerfile: dockerfile(), "app.sh": APP_SH }));
  }, 240_000);

  afterAll(async () => {
    git?.stop();
    for (const i of inspected) await cleanupInspected(i);
    await podman?.stop();
  });

  const substitute = (text: string) => text.replaceAll("REGISTRY", env.reg.host).replaceAll("https://github.com/example/app.git", `${git.url}/app.git`);

  test("pod.yaml: the init container clones the context, kiln builds and pushes it with the Secret's credentials", async () => {
    const pod = Bun.YAML.parse(substitute(example("kubernetes/pod.yaml"))) as any;
    expect(pod.kind).toBe("Pod");
    const r = await play(forPodman(pod, {}), pod.metadata.name);
    expectSuccess(r);
    await expectApp(`${env.reg.host}/team/app:1.0`, r.log);
  }, 120_000);

  test("job.yaml: its pod template builds the context mounted from a ConfigMap", async () => {
    const job = Bun.YAML.parse(substitute(example("kubernetes/job.yaml"))) as any;
    expect(job.kind).toBe("Job");
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: job.metadata.name }, spec: job.spec.template.spec };
    expect(pod.spec.containers[0].image).toBe((Bun.YAML.parse(substitute(example("kubernetes/pod.yaml"))) as any).spec.containers[0].image);
    const contextMap = pod.spec.volumes.find((v: any) => v.configMap).configMap.name;
    // What `kubectl create configmap app-context --from-file=Dockerfile --from-file=app.sh` makes.
    const r = await play(forPodman(pod, { [contextMap]: { Dockerfile: dockerfile(), "app.sh": APP_SH } }), pod.metadata.name);
    expectSuccess(r);
    await expectApp(`${env.reg.host}/team/app:1.0`, r.log);
  }, 120_000);

  test("gitlab-ci.yml: the job's script in the debug image writes config.json and pushes", async () => {
    // Only the image name: the script's ${CI_REGISTRY} must stay as written.
    const job = (Bun.YAML.parse(example("gitlab-ci.yml")) as any).build;
    const image = substitute(job.image.name);
    expect(job.image.entrypoint).toEqual([""]);
    const projectDir = "/builds/team/app";
    const ctx = env.keep(makeContext({ Dockerfile: dockerfile(), "app.sh": APP_SH }));
    const vars = {
      CI_REGISTRY: env.reg.host, CI_REGISTRY_USER: env.reg.username!, CI_REGISTRY_PASSWORD: env.reg.password!,
      CI_REGISTRY_IMAGE: `${env.reg.host}/team/app`, CI_PROJECT_DIR: projectDir, CI_COMMIT_SHORT_SHA: "1a2b3c4d",
    };
    // GitLab's shell executor runs the script lines in order and stops at the first that fails.
    const script = ["set -e", ...job.script].join("\n");
    const r = await podman.run(["run", "--rm", "--network", "host", "--entrypoint", "", "-v", `${ctx}:${projectDir}`,
      ...Object.entries(vars).flatMap(([k, v]) => ["-e", `${k}=${v}`]), image, "/busybox/sh", "-c", script]);
    const run = { code: r.code, log: r.stdout + r.stderr };
    expectSuccess(run);
    await expectApp(`${env.reg.host}/team/app:1a2b3c4d`, run.log);
  }, 120_000);
});
