// kiln's executor and debug images, built by scripts/images.sh (with kiln itself), run the way a cluster runs them:
// the image unpacked into a temp root, new mount and PID namespaces, a fresh /proc, /dev and /sys, the context
// bind-mounted at /workspace, the host network (for the loopback registry), the image's Env and nothing else of
// the host. Inside, kiln builds in-place on "/" — which must be the temp root, never the host's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspectOciLayout, inspectRegistryImage } from "../support/image-assert.ts";
import { makeContext } from "../support/kiln.ts";
import { contextTarGz } from "../support/context-archives.ts";
import { manifestOf } from "../support/registry.ts";
import { runContainer, useExecutorImages } from "../support/container.ts";

const fx = useExecutorImages();
const { cleanup, inspected } = fx;
const hostMarker = `/var/tmp/kiln-e2e-marker-${process.pid}`;
let hostRootBefore: string;

/** The host's top-level names: an in-place build that escaped would wipe or add some (mtimes move with other work). */
function hostRootState(): string {
  return readdirSync("/").sort().join(" ");
}

beforeAll(() => {
  writeFileSync(hostMarker, "untouched\n");
  hostRootBefore = hostRootState();
});

afterAll(() => {
  rmSync(hostMarker, { force: true });
});

/** Unpacks an image layout (umoci) and returns its rootfs and Env. */
async function unpack(name: "executor" | "debug"): Promise<{ rootfs: string; env: string[]; entrypoint: string[] }> {
  const img = await inspectOciLayout(join(fx.imagesDir, name), "latest");
  inspected.push(img);
  return { rootfs: img.rootfsDir, env: img.config.config.Env, entrypoint: img.config.config.Entrypoint };
}

const MULTI_STAGE = (from: string) => `FROM ${from} AS builder
ENV GREETING=hello
COPY src.txt /src/src.txt
RUN mkdir -p /out && cp /src/src.txt /out/built.txt && echo "$GREETING from builder" >> /out/built.txt && echo x > /builder-only.txt

FROM ${from}
ENV APP=/app
COPY --from=builder /out/built.txt /app/built.txt
RUN echo "final sees $(head -1 /app/built.txt)" > /app/final.txt && ls / > /app/root-listing.txt
WORKDIR /app
CMD ["cat", "/app/final.txt"]
`;

async function checkPushed(ref: string) {
  const img = await inspectRegistryImage(ref);
  inspected.push(img);
  const f = (p: string) => img.files.get(p);
  expect(f("/app/built.txt")?.content).toBe("source\nhello from builder\n");
  expect(f("/app/final.txt")?.content).toBe("final sees source\n");
  expect(f("/bin/busybox")?.type).toBe("file");
  // Nothing of the builder stage, of kiln or of the container leaks into the image.
  for (const p of ["/builder-only.txt", "/out", "/src", "/kaniko", "/workspace/Dockerfile", "/busybox", "/proc/self"]) expect(f(p)).toBeUndefined();
  // The RUN saw the image's root, with kiln's own directory beside it (as in kaniko).
  const listing = f("/app/root-listing.txt")!.content!.split("\n");
  expect(listing).toContain("bin");
  expect(listing).not.toContain("builder-only.txt");
  expect(img.config.config.Env).toContain("APP=/app");
  expect(img.config.config.Env.some((e: string) => e.startsWith("GREETING"))).toBe(false);
  expect(img.config.config.WorkingDir).toBe("/app");
  expect(img.config.config.Cmd).toEqual(["cat", "/app/final.txt"]);
}

function context(): string {
  const dir = makeContext({ Dockerfile: MULTI_STAGE(fx.base), "src.txt": "source\n" });
  cleanup.push(dir);
  return dir;
}

describe("the executor image", () => {
  test("is FROM scratch with /kaniko/executor as entrypoint, DOCKER_CONFIG and labels", async () => {
    const img = await inspectOciLayout(join(fx.imagesDir, "executor"), "latest");
    inspected.push(img);
    const top = [...img.files.keys()].filter((p) => p.split("/").length === 2).sort();
    expect(top).toEqual(["/kaniko", "/workspace"]);
    expect(img.files.get("/kaniko/warmer")).toMatchObject({ type: "symlink", linkTarget: "executor" });
    expect(img.files.get("/kaniko/lib/ld-linux-x86-64.so.2")?.type).toBe("file");
    expect(img.files.get("/kaniko/ssl/certs/ca-certificates.crt")?.type).toBe("file");
    const c = img.config.config;
    expect(c.Entrypoint).toEqual(["/kaniko/executor"]);
    expect(c.WorkingDir).toBe("/workspace");
    expect(c.Env).toContain("DOCKER_CONFIG=/kaniko/.docker/");
    expect(c.Labels["org.opencontainers.image.version"]).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);

  test("builds a multi-stage Dockerfile in-place on its own root and pushes it", async () => {
    const { rootfs, env, entrypoint } = await unpack("executor");
    const dest = `${fx.reg.host}/from-executor:v1`;
    const r = await runContainer(rootfs, context(), env, [
      ...entrypoint, "--context", "dir:///workspace", "--destination", dest, "--insecure", "--insecure-pull", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.stderr).not.toContain("cannot create device node");
    expect(r.code).toBe(0);
    await checkPushed(dest);
    // Without --cleanup the last stage's files stay in the container's root (kaniko does the same) ...
    expect(existsSync(join(rootfs, "app/final.txt"))).toBe(true);
    // ... the earlier stage was wiped, and kiln's scratch files left its directory.
    expect(existsSync(join(rootfs, "builder-only.txt"))).toBe(false);
    expect(readdirSync(join(rootfs, "kaniko")).sort()).toEqual([".docker", "executor", "lib", "ssl", "warmer"]);
  }, 120_000);

  test("builds from a tar:// context with --context-sub-path, unpacked into kiln's own directory and kept out of the image", async () => {
    const { rootfs, env, entrypoint } = await unpack("executor");
    const ctx = makeContext({});
    cleanup.push(ctx);
    writeFileSync(join(ctx, "ctx.tar.gz"), contextTarGz({ "svc/Dockerfile": MULTI_STAGE(fx.base), "svc/src.txt": "source\n" }));
    const dest = `${fx.reg.host}/from-executor-tar:v1`;
    const r = await runContainer(rootfs, ctx, env, [
      ...entrypoint, "--context", "tar:///workspace/ctx.tar.gz", "--context-sub-path", "svc", "--destination", dest, "--insecure", "--insecure-pull", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    await checkPushed(dest);
    expect(readdirSync(join(rootfs, "kaniko")).sort()).toEqual([".docker", "executor", "lib", "ssl", "warmer"]);
  }, 120_000);

  test("unpacks device nodes with no mknod binary: a FROM scratch stage copying from one that made nodes", async () => {
    const { rootfs, env, entrypoint } = await unpack("executor");
    // The final stage wipes "/" (busybox's tools with it), then unpacks the builder's layers for COPY --from.
    const ctx = makeContext({
      Dockerfile: `FROM ${fx.base} AS builder\nRUN mkdir /out && mknod /out/null c 1 3 && mknod /out/loop b 7 0 && mkfifo /out/fifo && echo x > /out/x\n` +
        "FROM scratch\nCOPY --from=builder /out/x /x\n",
    });
    cleanup.push(ctx);
    const r = await runContainer(rootfs, ctx, env, [
      ...entrypoint, "--context", "dir:///workspace", "--no-push", "--insecure-pull", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("cannot create device node");
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
  }, 120_000);

  test("COPY --from takes an earlier stage's files from where they were moved aside, the same files as from its layers", async () => {
    const { rootfs, env, entrypoint } = await unpack("executor");
    const setup = "RUN mkdir -p /out/d && echo a > /out/d/a && ln /out/d/a /out/d/hard && ln -s a /out/d/sym && chown 7:8 /out/d/a && " +
      "chmod 4750 /out/d/a && mkfifo /out/fifo && chmod 700 /out/d && rm /bin/true\n";
    // Stage "one" is named by COPY --from, so its files are moved aside when "two" takes "/" over; "two" is only
    // named through an ARG, so it is wiped and unpacked from its layers for the COPY (and built only because
    // unused stages are not skipped).
    const ctx = makeContext({
      Dockerfile: `ARG TWO=two\nFROM ${fx.base} AS one\n${setup}FROM ${fx.base} AS two\n${setup}FROM ${fx.base}\nARG TWO\n` +
        "COPY --from=one /out /app/one\nCOPY --from=${TWO} /out /app/two\nCOPY --from=one /bin /app/bin-one\nCOPY --from=${TWO} /bin /app/bin-two\n",
    });
    cleanup.push(ctx);
    const dest = `${fx.reg.host}/kept-stage:v1`;
    const r = await runContainer(rootfs, ctx, env, [
      ...entrypoint, "--context", "dir:///workspace", "--destination", dest, "--insecure", "--insecure-pull", "--reproducible", "--skip-unused-stages=false", "--log-format", "text",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect(r.stderr.match(/Keeping the filesystem of the previous stage/g)?.length).toBe(1);
    const img = await inspectRegistryImage(dest);
    inspected.push(img);
    const under = (prefix: string) => [...img.files.values()].filter((f) => f.path.startsWith(prefix)).map((f) => ({ ...f, path: f.path.slice(prefix.length) }));
    expect(under("/app/one/").map((f) => f.path).sort()).toEqual(["d", "d/a", "d/hard", "d/sym"]);
    expect(under("/app/one/")).toEqual(under("/app/two/"));
    expect(under("/app/bin-one/").length).toBeGreaterThan(50);
    expect(under("/app/bin-one/")).toEqual(under("/app/bin-two/"));
    expect(img.files.get("/app/bin-one/true")).toBeUndefined();
    expect(img.files.get("/app/one/d/a")).toMatchObject({ mode: 0o4750, uid: 7, gid: 8, content: "a\n" });
    expect(readdirSync(join(rootfs, "kaniko")).sort()).toEqual([".docker", "executor", "lib", "ssl", "warmer"]);
  }, 120_000);

  test("--cache in place: a rebuild is served from the cache, and a miss after hits first applies the cached layers over /", async () => {
    const layersOf = async (repo: string) => {
      const m = (await manifestOf(fx.reg.host, repo, "t")) as { layers: { digest: string }[] } | undefined;
      if (!m) throw new Error(`${repo}:t is not in the registry`);
      return m.layers.map((l) => l.digest);
    };
    const build = async (dockerfile: string, repo: string) => {
      const { rootfs, env, entrypoint } = await unpack("executor"); // a fresh container each time
      const ctx = makeContext({ Dockerfile: dockerfile });
      cleanup.push(ctx);
      const r = await runContainer(rootfs, ctx, env, [
        ...entrypoint, "--context", "dir:///workspace", "--destination", `${fx.reg.host}/${repo}:t`, "--insecure", "--insecure-pull",
        "--log-format", "text", "--cache", "--cache-repo", `${fx.reg.host}/inplace-cache`,
      ]);
      expect(r.stderr).not.toContain("ERROR");
      expect(r.code).toBe(0);
      return layersOf(repo);
    };
    const first = `FROM ${fx.base}\nRUN cat /proc/sys/kernel/random/uuid > /r\nRUN echo second > /s\n`;
    const a = await build(first, "inplace-a");
    expect(await build(first, "inplace-b")).toEqual(a);
    // The first RUN hits; the second misses and reads the first's file, which only the cached layer holds.
    const c = await build(`FROM ${fx.base}\nRUN cat /proc/sys/kernel/random/uuid > /r\nRUN cp /r /copy-of-r\n`, "inplace-c");
    expect(c[1]).toBe(a[1]);
    const img = await inspectRegistryImage(`${fx.reg.host}/inplace-c:t`);
    inspected.push(img);
    expect(img.files.get("/copy-of-r")?.content).toBe(img.files.get("/r")?.content);
    expect(img.files.get("/r")?.content).toMatch(/^[0-9a-f-]{36}\n$/);
  }, 180_000);

  test("--help starts from the scratch root (only /kaniko and a /proc)", async () => {
    const { rootfs, env } = await unpack("executor");
    const r = await runContainer(rootfs, context(), env, ["/kaniko/executor", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--destination");
  }, 60_000);
});

describe("the debug image", () => {
  test("builds through its shell twice in one container with --cleanup, leaving only its own files", async () => {
    const { rootfs, env } = await unpack("debug");
    const ctx = context();
    const flags = "--context dir:///workspace --insecure --insecure-pull --log-format text --cleanup";
    const script = [
      `/kaniko/executor ${flags} --destination ${fx.reg.host}/from-debug:1`,
      `/kaniko/executor ${flags} --destination ${fx.reg.host}/from-debug:2`,
      "echo ROOT: $(ls -A / | sort)",
      "echo KANIKO: $(ls -A /kaniko | sort)",
      "echo EMPTIED: $(find /etc /tmp /var ! -type d 2>/dev/null)",
    ].join(" && ");
    const r = await runContainer(rootfs, ctx, env, ["/busybox/sh", "-c", script]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    await checkPushed(`${fx.reg.host}/from-debug:1`);
    await checkPushed(`${fx.reg.host}/from-debug:2`);
    // What remains: the image's own files, mounts, and the (emptied) directories leading to ignored paths
    // (/etc/mtab, /tmp/apt-key-gpghome, /var/run), as kaniko keeps them.
    const root = /ROOT: (.*)\n/.exec(r.stdout)![1].split(" ");
    expect(root.filter((n) => !["etc", "tmp", "var"].includes(n))).toEqual(["busybox", "dev", "kaniko", "proc", "sys", "workspace"]);
    expect(r.stdout).toContain("EMPTIED:\n");
    expect(r.stdout).toContain("KANIKO: .docker executor lib ssl warmer\n");
  }, 180_000);
});

test("the host's root did not change", () => {
  expect(inspected.length).toBeGreaterThan(3); // the tests above ran
  expect(readFileSync(hostMarker, "utf8")).toBe("untouched\n");
  for (const p of ["/builder-only.txt", "/out", "/src", "/app"]) expect(existsSync(p)).toBe(false);
  expect(hostRootState()).toBe(hostRootBefore);
});
