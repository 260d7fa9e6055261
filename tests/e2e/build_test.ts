// The first end-to-end path: real Dockerfiles built by the kiln CLI (from source and compiled), pushed to a
// real distribution registry, and checked with skopeo + umoci, which share no code with kiln.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { cleanupInspected, inspectDockerArchive, inspectOciLayout, inspectRegistryImage, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, runKiln, type KilnFlavour } from "../support/kiln.ts";
import { validateOciLayout, validateRegistryImage } from "../support/validate-image.ts";


const fx = useBusyboxRegistry();

const tmp = fx.tmp;

const APP_DOCKERFILE = (from: string) => `# a Dockerfile using every instruction of the first milestone
FROM ${from}
ARG GREETING=hi
ENV APP_HOME=/app \\
    MODE=test
WORKDIR $APP_HOME
COPY hello.txt ./
COPY dir/ /app/dir/
RUN echo "$GREETING from run in $(pwd)" > /app/run.txt && mkdir -p /data && chmod 0750 /data
RUN ["/bin/sh", "-c", "echo exec-form > /app/exec.txt"]
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app
USER app
RUN id -u > /home/app/uid.txt && echo "$HOME" > /home/app/home.txt
USER root
RUN rm /app/dir/b.txt && rm -r /app/dir/sub
LABEL org.example.kind=e2e version="1.0"
USER app:app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/hello.txt"]
`;

function appContext(from: string): string {
  const dir = makeContext({
    Dockerfile: APP_DOCKERFILE(from),
    "hello.txt": "hello world\n",
    "dir/a.txt": "a\n",
    "dir/b.txt": "b\n",
    "dir/sub/c.txt": "c\n",
    "ignored.txt": "never copied\n",
    ".dockerignore": "ignored.txt\n",
  });
  fx.keep(dir);
  return dir;
}

function checkAppImage(img: InspectedImage, baseLayers: number, greeting: string) {
  const f = (p: string) => img.files.get(p);
  expect(f("/app/hello.txt")).toMatchObject({ type: "file", mode: 0o644, uid: 0, gid: 0, content: "hello world\n" });
  expect(f("/app/dir/a.txt")?.content).toBe("a\n");
  expect(f("/app/dir/b.txt")).toBeUndefined(); // deleted by a later RUN: a whiteout in its layer
  expect(f("/app/dir/sub")).toBeUndefined();
  expect(f("/app/dir/sub/c.txt")).toBeUndefined();
  expect(f("/app/run.txt")?.content).toBe(`${greeting} from run in /app\n`);
  expect(f("/app/exec.txt")?.content).toBe("exec-form\n");
  expect(f("/data")).toMatchObject({ type: "dir", mode: 0o750 });
  expect(f("/home/app")).toMatchObject({ type: "dir", uid: 1000, gid: 1000 });
  expect(f("/home/app/uid.txt")).toMatchObject({ content: "1000\n", uid: 1000, gid: 1000 });
  expect(f("/home/app/home.txt")?.content).toBe("/home/app\n");
  expect(f("/bin/busybox")?.type).toBe("file"); // the base is there
  expect(f("/ignored.txt")).toBeUndefined();
  expect(f("/proc/self")).toBeUndefined();

  const c = img.config.config;
  expect(c.Env).toContain("APP_HOME=/app");
  expect(c.Env).toContain("MODE=test");
  expect(c.Env.some((e: string) => e.startsWith("GREETING"))).toBe(false); // ARGs are not ENV
  expect(c.WorkingDir).toBe("/app");
  expect(c.User).toBe("app:app");
  expect(c.Labels).toEqual({ "org.example.kind": "e2e", version: "1.0" });
  expect(c.Entrypoint).toEqual(["/bin/sh", "-c"]);
  expect(c.Cmd).toEqual(["cat /app/hello.txt"]);
  // One layer per filesystem-changing step: WORKDIR (creates /app), 2 COPY, 5 RUN.
  expect(img.layers).toBe(baseLayers + 8);
  const own = img.config.history.filter((h: any) => h.comment === "buildkit.dockerfile.v0");
  expect(own.map((h: any) => h.created_by.split(" ")[0])).toEqual([
    "ARG", "ENV", "WORKDIR", "COPY", "COPY", "RUN", "RUN", "RUN", "USER", "RUN", "USER", "RUN", "LABEL", "USER", "ENTRYPOINT", "CMD",
  ]);
  expect(own.filter((h: any) => !h.empty_layer).length).toBe(8);
  expect(own.find((h: any) => h.created_by.startsWith("RUN |1 GREETING="))).toBeDefined();
}

describe.each(["source", "binary"] as KilnFlavour[])("kiln from %s", (flavour) => {
  test("builds a Dockerfile FROM a registry image and pushes it", async () => {
    const ctx = appContext(fx.base);
    const out = tmp("kiln-out-");
    const dest = `${fx.reg.host}/app-${flavour}:v1`;
    const r = await runKiln([
      "--context", `dir://${ctx}`, "--dockerfile", join(ctx, "Dockerfile"), "--destination", dest, "--insecure", "--insecure-pull",
      "--build-arg", "GREETING=hello", "--digest-file", join(out, "digest"), "--log-format", "text",
    ], { flavour });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect(await validateRegistryImage(dest)).toEqual([]);
    const img = await inspectRegistryImage(dest);
    try {
      const baseImg = await inspectRegistryImage(fx.base);
      await cleanupInspected(baseImg);
      checkAppImage(img, baseImg.layers, "hello");
      expect(readFileSync(join(out, "digest"), "utf8")).toBe(img.manifestDigest);
    } finally {
      await cleanupInspected(img);
    }
  }, 120_000);
});

test("FROM scratch to a docker-archive and an OCI layout without pushing", async () => {
  const ctx = makeContext({
    Dockerfile: "FROM scratch\nCOPY a.txt /files/\nCOPY b.txt /files/renamed.txt\nENV X=1\nCMD [\"/nothing\"]\n",
    "a.txt": "A\n",
    "b.txt": "B\n",
  });
  fx.keep(ctx);
  const out = tmp("kiln-out-");
  const r = await runKiln([
    "-c", ctx, "-f", join(ctx, "Dockerfile"), "--no-push", "--tar-path", join(out, "image.tar"),
    "--oci-layout-path", join(out, "layout"), "--destination", `${fx.reg.host}/scratchy:t1`,
  ]);
  expect(r.code).toBe(0);
  expect(await validateOciLayout(join(out, "layout"))).toEqual([]);
  for (const img of [await inspectDockerArchive(join(out, "image.tar")), await inspectOciLayout(join(out, "layout"), "t1")]) {
    try {
      expect(img.files.get("/files/a.txt")).toMatchObject({ content: "A\n", mode: 0o644, uid: 0 });
      expect(img.files.get("/files/renamed.txt")?.content).toBe("B\n");
      expect(img.layers).toBe(2);
      expect(img.config.config.Env).toEqual(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "X=1"]);
      expect(img.config.config.Cmd).toEqual(["/nothing"]);
      expect(img.config.os).toBe("linux");
    } finally {
      await cleanupInspected(img);
    }
  }
  const archiveManifest = JSON.parse(Bun.spawnSync(["tar", "-xOf", join(out, "image.tar"), "manifest.json"]).stdout.toString());
  expect(archiveManifest[0].RepoTags).toEqual([`${fx.reg.host}/scratchy:t1`]);
  // --no-push pushed nothing.
  const tags = await fetch(`${fx.reg.url}/v2/scratchy/tags/list`);
  expect(tags.status).toBe(404);
}, 120_000);

describe("bad input: one clear line, non-zero exit, nothing left behind", () => {
  async function failing(dockerfile: string | undefined, extra: string[] = [], files: Record<string, string> = {}) {
    const ctx = makeContext({ ...(dockerfile !== undefined ? { Dockerfile: dockerfile } : {}), ...files });
    fx.keep(ctx);
    const out = tmp("kiln-out-");
    const r = await runKiln([
      "-c", ctx, "-f", join(ctx, "Dockerfile"), "--insecure", "--insecure-pull", "--log-format", "text",
      "--tar-path", join(out, "image.tar"), "--oci-layout-path", join(out, "layout"), "--digest-file", join(out, "digest"), ...extra,
    ]);
    const errors = r.stderr.split("\n").filter((l) => l.includes("ERROR"));
    expect(errors).toHaveLength(1);
    expect(existsSync(join(out, "image.tar")) || existsSync(join(out, "layout")) || existsSync(join(out, "digest"))).toBe(false);
    return { ...r, error: errors[0] };
  }

  test("missing Dockerfile", async () => {
    const r = await failing(undefined, ["--no-push"]);
    expect(r.code).toBe(1);
    expect(r.error).toContain("Dockerfile not found");
  });

  test("unknown instruction names file and line", async () => {
    const r = await failing("FROM scratch\nCOPY a /a\nFORM x\n", ["--no-push"], { a: "a" });
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/Dockerfile:3.*FORM/);
  });

  test("unknown base image names the reference", async () => {
    const r = await failing(`FROM ${fx.reg.host}/does-not-exist:v9\nRUN true\n`, ["--no-push"]);
    expect(r.code).toBe(1);
    expect(r.error).toContain(`${fx.reg.host}/does-not-exist:v9`);
  });

  test("unreachable registry for the push leaves no tag and no file", async () => {
    const r = await failing("FROM scratch\nCOPY a /a\n", ["--destination", "127.0.0.1:1/nowhere:t"], { a: "a" });
    expect(r.code).toBe(1);
    expect(r.error).toContain("127.0.0.1:1");
  });

  test("failing RUN exits with its own code and pushes nothing", async () => {
    const r = await failing(`FROM ${fx.base}\nRUN echo partial > /x\nRUN exit 3\n`, ["--destination", `${fx.reg.host}/failing:t`]);
    expect(r.code).toBe(3);
    expect(r.error).toContain("exit 3");
    const tags = await fetch(`${fx.reg.url}/v2/failing/tags/list`);
    expect(tags.status).toBe(404);
  }, 60_000);

  test("an output that cannot be written leaves every destination as it was: no new file, an earlier build's kept", async () => {
    const ctx = makeContext({ Dockerfile: "FROM scratch\nCOPY a /a\n", a: "a" });
    fx.keep(ctx);
    const out = tmp("kiln-out-");
    writeFileSync(join(out, "not-a-dir"), "x");
    writeFileSync(join(out, "image.tar"), "an earlier build's tarball");
    const r = await runKiln([
      "-c", ctx, "--no-push", "--log-format", "text", "--tar-path", join(out, "image.tar"),
      "--oci-layout-path", join(out, "not-a-dir", "layout"), "--digest-file", join(out, "digest"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l.includes("ERROR"))).toHaveLength(1);
    // No temp file left beside them either (they are dot-files).
    expect(readdirSync(out).sort()).toEqual(["image.tar", "not-a-dir"]);
    expect(readFileSync(join(out, "image.tar"), "utf8")).toBe("an earlier build's tarball");
  });

  test("a bad flag is named", async () => {
    const r = await runKiln(["--no-push", "--compression", "lzma"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--compression");
  });
});
