// RUN --mount (cache, bind, tmpfs, secret) and --network=none, built by the kiln CLI from a busybox base in a
// real registry; the image is read with skopeo+umoci and its layers with tar, which share no code with kiln.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { cleanupInspected, inspectOciLayout, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { layerPaths, layoutContains } from "../support/layers.ts";

const SECRET = "s3cr3t-value-9f1c";
const inspected: InspectedImage[] = [];

const fx = useBusyboxRegistry();
afterAll(async () => {
  for (const i of inspected) await cleanupInspected(i);
});

const tmp = fx.tmp;

async function build(files: Record<string, string>, extra: string[] = [], env: Record<string, string> = {}) {
  const ctx = makeContext(files);
  fx.keep(ctx);
  const out = join(tmp("kiln-mounts-out-"), "oci");
  const r = await runKiln(["--context", ctx, "--no-push", "--insecure-registry", fx.reg.host, "--oci-layout-path", out, ...extra], { env });
  return { ...r, out, ctx };
}

describe("RUN --mount", () => {
  let img: InspectedImage;
  let layers: string[][];
  let run: Awaited<ReturnType<typeof build>>;
  let kanikoDir: string;

  beforeAll(async () => {
    kanikoDir = tmp("kiln-mounts-work-");
    const secretFile = join(tmp("kiln-secret-"), "tok");
    writeFileSync(secretFile, SECRET);
    run = await build({
      Dockerfile: `FROM ${fx.base} AS src
RUN echo from-stage > /made.txt
FROM ${fx.base}
WORKDIR /work
RUN --mount=type=cache,target=/var/cache/app,id=c1 sh -c 'echo one >> /var/cache/app/log; cat /var/cache/app/log > /seen1'
RUN --mount=type=cache,target=/var/cache/app,id=c1,sharing=locked sh -c 'echo two >> /var/cache/app/log; cat /var/cache/app/log > /seen2'
RUN --mount=type=cache,target=/cache2,uid=1000,gid=1000,mode=0700 stat -c '%u %g %a' /cache2 > /cache2.stat
RUN --mount=type=cache,id=seeded,from=src,source=/,target=/seed cat /seed/made.txt > /seeded.txt
RUN --mount=type=bind,source=ctxdir,target=/mnt/ctx sh -c 'cat /mnt/ctx/a.txt > /bind.txt; (touch /mnt/ctx/x 2>/dev/null && echo rw || echo ro) > /bind-ro.txt; ls /mnt/ctx > /bind-ls.txt'
RUN --mount=type=bind,source=ctxdir,target=rel,rw sh -c 'touch rel/new && ls rel > /bind-rw.txt'
RUN --mount=type=bind,from=src,source=/made.txt,target=/m.txt cat /m.txt > /from-stage.txt
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo t > /scratch/f && df -k /scratch | tail -1 | awk "{print \\$2}" > /tmpfs-size'
RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /secret-len; stat -c "%a %u" /run/secrets/tok > /secret-mode'
RUN --mount=type=secret,id=tok,env=TOKEN,target=/etc/tok sh -c 'test "$TOKEN" = "$(cat /etc/tok)" && test \${#TOKEN} = ${SECRET.length} && echo env-ok > /secret-env'
RUN --mount=type=secret,id=absent sh -c 'test ! -e /run/secrets/absent && echo skipped > /secret-absent'
RUN --network=none sh -c 'tail -n +3 /proc/net/dev | wc -l > /net-none'
RUN sh -c 'tail -n +3 /proc/net/dev | wc -l > /net-default'
`,
      "ctxdir/a.txt": "from context\n",
      "ctxdir/hidden.txt": "ignored\n",
      ".dockerignore": "ctxdir/hidden.txt\n",
    }, ["--kaniko-dir", kanikoDir, "--secret", `id=tok,src=${secretFile}`]);
    if (run.code !== 0) throw new Error(`build failed (${run.code}): ${run.stderr}`);
    img = await inspectOciLayout(run.out);
    inspected.push(img);
    layers = await layerPaths(run.out);
  }, 120_000);

  const content = (p: string) => img.files.get(p)?.content;

  test("cache mounts persist between RUNs, honour uid/gid/mode, can be seeded from a stage, and stay out of the image", () => {
    expect(content("/seen1")).toBe("one\n");
    expect(content("/seen2")).toBe("one\ntwo\n");
    expect(content("/cache2.stat")).toBe("1000 1000 700\n");
    expect(content("/seeded.txt")).toBe("from-stage\n");
    for (const p of ["/var/cache", "/var/cache/app", "/cache2", "/seed"]) expect(img.files.get(p)).toBeUndefined();
  });

  test("bind mounts: context (minus .dockerignore) read-only by default; rw writes are discarded; from a stage", () => {
    expect(content("/bind.txt")).toBe("from context\n");
    expect(content("/bind-ro.txt")).toBe("ro\n");
    expect(content("/bind-ls.txt")).toBe("a.txt\n");
    expect(content("/bind-rw.txt")).toBe("a.txt\nnew\n");
    expect(existsSync(join(run.ctx, "ctxdir/new"))).toBe(false);
    expect(readdirSync(join(run.ctx, "ctxdir")).sort()).toEqual(["a.txt", "hidden.txt"]);
    expect(content("/from-stage.txt")).toBe("from-stage\n");
    expect(img.files.get("/mnt")).toBeUndefined();
    expect(img.files.get("/work/rel")).toBeUndefined();
  });

  test("tmpfs mounts get their size", () => {
    expect(content("/tmpfs-size")).toBe("1024\n");
    expect(img.files.get("/scratch")).toBeUndefined();
  });

  test("secrets reach the command as a file and as env, and appear nowhere in the image or the output", () => {
    expect(content("/secret-len")).toBe(`${SECRET.length}\n`);
    expect(content("/secret-mode")).toBe("400 0\n");
    expect(content("/secret-env")).toBe("env-ok\n");
    expect(content("/secret-absent")).toBe("skipped\n");
    for (const p of ["/run", "/run/secrets", "/etc/tok"]) expect(img.files.get(p)).toBeUndefined();
    expect(layoutContains(run.out, SECRET)).toBe(false);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });

  test("--network=none has only loopback", () => {
    expect(content("/net-none")).toBe("1\n");
    expect(Number(content("/net-default"))).toBeGreaterThan(1);
  });

  test("each RUN layer holds only what the command wrote: no mount points, no parent dirs touched by them", () => {
    const baseLayers = 1;
    const added = layers.slice(baseLayers).flat().sort();
    expect(added).toEqual([
      "bind-ls.txt", "bind-ro.txt", "bind-rw.txt", "bind.txt", "cache2.stat", "from-stage.txt", "net-default", "net-none",
      "secret-absent", "secret-env", "secret-len", "secret-mode", "seeded.txt", "seen1", "seen2", "tmpfs-size", "work",
    ]);
  });

  test("the cache outlives the build in a work dir the user gave", async () => {
    const again = await build({
      Dockerfile: `FROM ${fx.base}\nRUN --mount=type=cache,target=/c,id=c1 cat /c/log > /again\n`,
    }, ["--kaniko-dir", kanikoDir]);
    expect(again.stderr).not.toContain("error");
    expect(again.code).toBe(0);
    const i = await inspectOciLayout(again.out);
    inspected.push(i);
    expect(i.files.get("/again")?.content).toBe("one\ntwo\n");
  }, 60_000);
});

describe("RUN --mount errors", () => {
  test("a required secret that was not given names the secret and the line", async () => {
    const r = await build({ Dockerfile: `FROM ${fx.base}\nRUN --mount=type=secret,id=npmrc,required cat /run/secrets/npmrc\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Dockerfile:2");
    expect(r.stderr).toContain(`secret "npmrc" is required`);
    expect(existsSync(r.out)).toBe(false);
  }, 60_000);

  test("--secret naming a missing file or variable is a flag error", async () => {
    const f = await runKiln(["--no-push", "--context", tmp("kiln-empty-"), "--secret", "id=a,src=/nonexistent/secret"]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("/nonexistent/secret does not exist");
    const e = await runKiln(["--no-push", "--context", tmp("kiln-empty-"), "--secret", "id=a,env=KILN_NO_SUCH_VAR"]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("KILN_NO_SUCH_VAR is not set");
  });

  test("a bind source missing from the context is named", async () => {
    const r = await build({ Dockerfile: `FROM ${fx.base}\nRUN --mount=type=bind,source=nope,target=/x true\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`source "nope" not found in the build context`);
  }, 60_000);

  test("a secret from the environment", async () => {
    const r = await build({ Dockerfile: `FROM ${fx.base}\nRUN --mount=type=secret,id=api,env=API sh -c 'echo "$API" | wc -c > /n'\n` },
      ["--secret", "id=api,env=KILN_TEST_API"], { KILN_TEST_API: "kiln-env-secret-7c2e" });
    expect(r.code).toBe(0);
    const i = await inspectOciLayout(r.out);
    inspected.push(i);
    expect(i.files.get("/n")?.content).toBe("21\n");
    expect(layoutContains(r.out, "kiln-env-secret-7c2e")).toBe(false);
  }, 60_000);
});
