// The layer cache (--cache) against a real registry: which edits hit and which miss, what a hit leaves in the
// image, what a fully cached rebuild fetches and pushes, and that a cache problem never fails a build.
// Whether a RUN was served from the cache is read from the image: each RUN writes a fresh UUID, so its layer
// digest repeats only when the layer came from the cache.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { freePort, manifestOf, startRegistry } from "../support/registry.ts";
import { makeContext, runKiln, type KilnRun } from "../support/kiln.ts";
import { cleanupInspected, inspectOciLayout, inspectRegistryImage } from "../support/image-assert.ts";

setDefaultTimeout(120_000);

const fx = useBusyboxRegistry();
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(fx.reg.host, []);
});
afterAll(async () => {
  await proxy?.stop();
});

let n = 0;
const uniqueRepo = (what: string) => `${what}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

interface Built extends KilnRun {
  /** Layer digests of the pushed image, base first. */
  layers: string[];
  ref: string;
}

/** Builds `ctx` with the cache in `cacheRepo` (a repository of the test registry) and pushes it as `repo:tag`. */
async function build(ctx: string, o: { repo: string; tag?: string; cacheRepo: string; extra?: string[]; host?: string }): Promise<Built> {
  const host = o.host ?? fx.reg.host;
  const tag = o.tag ?? "t";
  const ref = `${host}/${o.repo}:${tag}`;
  const r = await runKiln([
    "--context", ctx, "--destination", ref, "--insecure", "--insecure-pull", "--cache",
    "--cache-repo", `${host}/${o.cacheRepo}`, ...(o.extra ?? []),
  ]);
  if (r.code !== 0) throw new Error(`kiln exited ${r.code}:\n${r.stderr}`);
  const m = await manifestOf(fx.reg.host, o.repo, tag);
  if (!m) throw new Error(`kiln exited 0 but ${o.repo}:${tag} is not in the registry`);
  return { ...r, ref, layers: m.layers.map((l: { digest: string }) => l.digest) };
}

const dockerfile = (base: string, body: string) => `FROM ${base}\n${body}\n`;

describe("what hits and what misses", () => {
  const uuidRun = "RUN cat /proc/sys/kernel/random/uuid > /r";
  const body = ["ARG SEEN", "COPY data.txt /data.txt", uuidRun].join("\n");

  /** Builds `before`, then `after` (a function editing a copy of the context), and says whether the RUN hit. */
  async function runHit(edit: (ctx: string) => void, o: { files?: Record<string, string>; body?: string; argsBefore?: string[]; argsAfter?: string[] } = {}): Promise<boolean> {
    const files = { Dockerfile: dockerfile(fx.base, o.body ?? body), "data.txt": "data\n", "other.txt": "other\n", ...o.files };
    const cacheRepo = uniqueRepo("cache");
    const a = fx.keep(makeContext(files));
    const first = await build(a, { repo: uniqueRepo("app"), cacheRepo, extra: o.argsBefore ?? [] });
    const b = fx.keep(makeContext(files));
    edit(b);
    const second = await build(b, { repo: uniqueRepo("app"), cacheRepo, extra: o.argsAfter ?? o.argsBefore ?? [] });
    return first.layers.at(-1) === second.layers.at(-1);
  }

  test("the same context and Dockerfile: hit", async () => {
    expect(await runHit(() => {})).toBe(true);
  });
  test("the RUN's text changed: miss", async () => {
    expect(await runHit((c) => writeFileSync(join(c, "Dockerfile"), dockerfile(fx.base, body.replace("> /r", ">/r"))))).toBe(false);
  });
  test("a build-arg the stage declares changed value: miss", async () => {
    expect(await runHit(() => {}, { argsBefore: ["--build-arg", "SEEN=1"], argsAfter: ["--build-arg", "SEEN=2"] })).toBe(false);
  });
  test("a build-arg no stage declares changed value: hit", async () => {
    expect(await runHit(() => {}, { argsBefore: ["--build-arg", "UNSEEN=1"], argsAfter: ["--build-arg", "UNSEEN=2"] })).toBe(true);
  });
  test("a copied file's content changed: miss (the COPY before the RUN is in its key)", async () => {
    expect(await runHit((c) => writeFileSync(join(c, "data.txt"), "changed\n"))).toBe(false);
  });
  test("a copied file's mode changed: miss", async () => {
    expect(await runHit((c) => chmodSync(join(c, "data.txt"), 0o600))).toBe(false);
  });
  test("--chown on the COPY changed: miss", async () => {
    const chowned = (u: string) => ["ARG SEEN", `COPY --chown=${u} data.txt /data.txt`, uuidRun].join("\n");
    expect(await runHit((c) => writeFileSync(join(c, "Dockerfile"), dockerfile(fx.base, chowned("2:2"))), { body: chowned("1:1") })).toBe(false);
  });
  test("only a copied file's modification time changed: hit", async () => {
    expect(await runHit((c) => utimesSync(join(c, "data.txt"), new Date(1e12), new Date(1e12)))).toBe(true);
  });
  test("a context file the build does not copy changed: hit", async () => {
    expect(await runHit((c) => writeFileSync(join(c, "other.txt"), "changed\n"))).toBe(true);
  });
  test(".dockerignore: a change that changes what COPY . sees misses, one that does not hits", async () => {
    const all = ["COPY . /ctx/", uuidRun].join("\n");
    // .dockerignore leaves itself out, or COPY . would copy it and any edit to it would change what COPY sees.
    const ignore = (...lines: string[]) => [".dockerignore", ...lines, ""].join("\n");
    expect(await runHit((c) => writeFileSync(join(c, ".dockerignore"), ignore("other.txt")), { body: all, files: { ".dockerignore": ignore("nothing-matches") } })).toBe(false);
    expect(await runHit((c) => writeFileSync(join(c, ".dockerignore"), ignore("nothing-matches", "nor-this")), { body: all, files: { ".dockerignore": ignore("nothing-matches") } })).toBe(true);
  });
});

describe("hits in the image", () => {
  test("the base image's digest changed: miss", async () => {
    const baseRepo = uniqueRepo("base");
    const base = `${fx.reg.host}/${baseRepo}:latest`;
    const seed = fx.keep(makeContext({ Dockerfile: dockerfile(fx.base, "RUN echo one > /base-marker") }));
    expect((await runKiln(["--context", seed, "--destination", base, "--insecure", "--insecure-pull"])).code).toBe(0);
    const files = { Dockerfile: dockerfile(base, "RUN cat /proc/sys/kernel/random/uuid > /r") };
    const cacheRepo = uniqueRepo("cache");
    const first = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo });
    const again = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo });
    expect(again.layers.at(-1)).toBe(first.layers.at(-1));
    const reseed = fx.keep(makeContext({ Dockerfile: dockerfile(fx.base, "RUN echo two > /base-marker") }));
    expect((await runKiln(["--context", reseed, "--destination", base, "--insecure", "--insecure-pull"])).code).toBe(0);
    const after = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo });
    expect(after.layers.at(-1)).not.toBe(first.layers.at(-1));
  });

  test("a fully cached rebuild downloads no layer, mounts its layers into a new repository, and equals the first image", async () => {
    const files = {
      Dockerfile: dockerfile(fx.base, [
        "RUN rm /etc/group && cat /proc/sys/kernel/random/uuid > /r",
        "COPY data.txt /data.txt",
        "RUN echo done >> /r && mkdir -p /many && for i in $(seq 1 50); do echo $i > /many/$i; done",
      ].join("\n")),
      "data.txt": "data\n",
    };
    const cacheRepo = uniqueRepo("cache");
    const first = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo, host: proxy.host, extra: ["--cache-copy-layers"] });
    proxy.log.length = 0;
    const repo = uniqueRepo("app");
    const second = await build(fx.keep(makeContext(files)), { repo, cacheRepo, host: proxy.host, extra: ["--cache-copy-layers"] });
    expect(second.layers).toEqual(first.layers);
    const layerGets = proxy.log.filter((r) => r.method === "GET" && first.layers.some((d) => r.path.endsWith(`/blobs/${d}`)));
    expect(layerGets).toEqual([]);
    // Into a repository that has none of them, every layer is mounted from the cache or the base's repository.
    const uploads = proxy.log.filter((r) => r.method === "POST" && r.path.startsWith(`/v2/${repo}/blobs/uploads/`));
    expect(uploads.length).toBeGreaterThan(0);
    for (const u of uploads.filter((u) => !u.path.includes("mount="))) {
      // Only the config (never seen before: its `created` differs) may be uploaded.
      expect(first.layers.some((d) => u.path.includes(encodeURIComponent(d)))).toBe(false);
    }
    expect(uploads.filter((u) => u.path.includes("mount=")).length).toBeGreaterThanOrEqual(first.layers.length - 1);
    const a = await inspectRegistryImage(first.ref.replace(proxy.host, fx.reg.host));
    const b = await inspectRegistryImage(second.ref.replace(proxy.host, fx.reg.host));
    try {
      expect(b.files.has("/etc/group")).toBe(false);
      expect(b.files.get("/r")).toEqual(a.files.get("/r"));
      const strip = (c: any) => ({ ...c, created: undefined, history: c.history.map((h: any) => ({ ...h, created: undefined })) });
      expect(strip(b.config)).toEqual(strip(a.config));
    } finally {
      await cleanupInspected(a);
      await cleanupInspected(b);
    }
  });

  test("a stage sharing its first steps with another stage of an earlier build hits that stage's entries", async () => {
    const cacheRepo = uniqueRepo("cache");
    const stage = (name: string, extra: string) => `FROM ${fx.base} AS ${name}\nRUN cat /proc/sys/kernel/random/uuid > /shared\n${extra}`;
    const first = await build(fx.keep(makeContext({ Dockerfile: `${stage("a", "")}\n` })), { repo: uniqueRepo("app"), cacheRepo });
    const second = await build(fx.keep(makeContext({ Dockerfile: `${stage("a", "")}\n${stage("b", "RUN echo b > /b")}\n` })), { repo: uniqueRepo("app"), cacheRepo });
    expect(second.layers[1]).toBe(first.layers[1]);
    expect(second.layers.length).toBe(3);
  });
});

describe("settings", () => {
  test("--cache-ttl: an entry older than it is a miss", async () => {
    const files = { Dockerfile: dockerfile(fx.base, "RUN cat /proc/sys/kernel/random/uuid > /r") };
    const cacheRepo = uniqueRepo("cache");
    const first = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo });
    // 1ms: the entry the first build wrote is older than that by the time the second build looks it up.
    const second = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo, extra: ["--cache-ttl", "1ms"] });
    expect(second.layers.at(-1)).not.toBe(first.layers.at(-1));
    const third = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo, extra: ["--cache-ttl", "1h"] });
    expect(third.layers.at(-1)).toBe(second.layers.at(-1));
  });

  test("--no-push-cache reads the cache but writes nothing to it", async () => {
    const files = { Dockerfile: dockerfile(fx.base, "RUN cat /proc/sys/kernel/random/uuid > /r") };
    const cacheRepo = uniqueRepo("cache");
    const first = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo, extra: ["--no-push-cache"] });
    const tags = await fetch(`http://${fx.reg.host}/v2/${cacheRepo}/tags/list`);
    expect(tags.status === 404 || (((await tags.json()) as { tags?: string[] }).tags ?? []).length === 0).toBe(true);
    const second = await build(fx.keep(makeContext(files)), { repo: uniqueRepo("app"), cacheRepo });
    expect(second.layers.at(-1)).not.toBe(first.layers.at(-1));
  });

  test("an oci: cache directory works without a registry", async () => {
    const dir = fx.keep(mkdtempSync(join(tmpdir(), "kiln-oci-cache-")));
    const files = { Dockerfile: dockerfile(fx.base, "RUN cat /proc/sys/kernel/random/uuid > /r") };
    const out = (i: number) => join(fx.tmp(), `img${i}`);
    const runs: string[] = [];
    for (const i of [1, 2]) {
      const o = out(i);
      const r = await runKiln(["--context", fx.keep(makeContext(files)), "--no-push", "--insecure-pull", "--cache", "--cache-repo", `oci:${dir}`, "--oci-layout-path", o]);
      expect(r.code).toBe(0);
      const img = await inspectOciLayout(o);
      try {
        runs.push(img.manifest.layers.at(-1).digest);
      } finally {
        await cleanupInspected(img);
      }
    }
    expect(runs[1]).toBe(runs[0]);
  });

  test("a cache repository that cannot be reached is a warning, not a failure", async () => {
    const host = `127.0.0.1:${freePort()}`;
    const r = await runKiln([
      "--context", fx.keep(makeContext({ Dockerfile: dockerfile(fx.base, "RUN echo x > /x") })), "--destination", `${fx.reg.host}/${uniqueRepo("app")}:t`,
      "--insecure", "--insecure-pull", "--insecure-registry", host, "--cache", "--cache-repo", `${host}/cache`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WARN.*cache/);
  });

  test("a cache repository that answers 401 is a warning, not a failure", async () => {
    const locked = await startRegistry({ auth: "htpasswd" });
    try {
      const r = await runKiln([
        "--context", fx.keep(makeContext({ Dockerfile: dockerfile(fx.base, "RUN echo x > /x") })), "--destination", `${fx.reg.host}/${uniqueRepo("app")}:t`,
        "--insecure", "--insecure-pull", "--insecure-registry", locked.host, "--cache", "--cache-repo", `${locked.host}/cache`,
      ]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/WARN.*cache.*(401|unauthorized|credentials)/i);
    } finally {
      await locked.stop();
    }
  });

  test("--cache with --no-push and no --cache-repo is one clear error, as in kaniko", async () => {
    const r = await runKiln(["--context", fx.keep(makeContext({ Dockerfile: dockerfile(fx.base, "RUN true") })), "--no-push", "--cache"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--cache-repo");
  });
});
