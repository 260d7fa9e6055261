// RUN --mount and --network=none in the executor image (in-place mode), where nothing can be mounted: the image
// runs in the namespace sandbox of tests/support/container.ts, kiln builds on its "/" (the temp root, never the
// host's), and the pushed image, its layers, its history and the log are checked.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { inspectOciLayout, inspectRegistryImage } from "../support/image-assert.ts";
import { makeContext } from "../support/kiln.ts";
import { manifestOf } from "../support/registry.ts";
import { runContainer, useExecutorImages } from "../support/container.ts";

const fx = useExecutorImages();
const { cleanup, inspected } = fx;
const SECRET = "kiln-e2e-secret-value-7f3a";


/** Builds `files` (a context with its Dockerfile) in a fresh executor container; `flags` go after the usual ones. */
async function build(files: Record<string, string>, repo: string, flags: string[] = [], env: string[] = [], dropCaps: string[] = []) {
  const img = await inspectOciLayout(join(fx.imagesDir, "executor"), "latest");
  inspected.push(img);
  const ctx = makeContext(files);
  cleanup.push(ctx);
  const r = await runContainer(img.rootfsDir, ctx, [...img.config.config.Env, ...env], [
    ...img.config.config.Entrypoint, "--context", "dir:///workspace", "--destination", `${fx.reg.host}/${repo}:t`, "--insecure", "--insecure-pull",
    "--log-format", "text", ...flags,
  ], { dropCaps });
  return { ...r, ref: `${fx.reg.host}/${repo}:t` };
}

/** The names in each layer of a pushed image, in order. */
async function layerNames(repo: string): Promise<string[][]> {
  const m = (await manifestOf(fx.reg.host, repo, "t")) as { layers: { digest: string }[] } | undefined;
  if (!m) throw new Error(`${repo}:t is not in the registry`);
  const out: string[][] = [];
  for (const l of m.layers) {
    const blob = new Uint8Array(await (await fetch(`http://${fx.reg.host}/v2/${repo}/blobs/${l.digest}`)).arrayBuffer());
    out.push(execFileSync("tar", ["-tz"], { input: blob, encoding: "utf8" }).trim().split("\n").filter(Boolean));
  }
  return out;
}

describe("RUN --mount in the executor image", () => {
  test("cache, secret (file and env), bind from the context, tmpfs and --network=none", async () => {
    const dockerfile = `FROM ${fx.base}
RUN mkdir -p /var/cache/app && echo image > /var/cache/app/own && echo base > /base.txt
RUN --mount=type=cache,target=/root/.cache --mount=type=cache,target=/var/cache/app,id=app ls -A /var/cache/app > /cache-1 && echo first > /root/.cache/f && echo kept > /var/cache/app/k
RUN --mount=type=cache,target=/root/.cache --mount=type=cache,target=/var/cache/app,id=app cat /root/.cache/f > /cache-2 && ls -A /var/cache/app >> /cache-2
RUN --mount=type=secret,id=tok,target=/run/secrets/tok --mount=type=secret,id=tok,env=TOKEN,required=true \\
    wc -c < /run/secrets/tok > /secret && stat -c %a:%u /run/secrets/tok >> /secret && test "$TOKEN" = "$(cat /run/secrets/tok)" && echo env-ok >> /secret
RUN --mount=type=bind,source=data,target=/data cat /data/in.txt > /from-bind && echo dropped > /data/in.txt
RUN --mount=type=tmpfs,target=/scratch stat -c %a /scratch > /tmpfs && ls -A /scratch >> /tmpfs && touch /scratch/t
RUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /net && ip link show lo | head -1 | cut -d' ' -f3 >> /net
`;
    const r = await build({ Dockerfile: dockerfile, "data/in.txt": "bound\n" }, "mounts", ["--secret", "id=tok,env=KILN_TOK"], [`KILN_TOK=${SECRET}`]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const img = await inspectRegistryImage(r.ref);
    inspected.push(img);
    const f = (p: string) => img.files.get(p)?.content;
    // cache: empty the first time (the image's own files hidden), the first RUN's files the second time.
    expect(f("/cache-1")).toBe("");
    expect(f("/cache-2")).toBe("first\nk\n");
    // secret: there while the RUN ran, 0400 root's, the env= value the same.
    expect(f("/secret")).toBe(`${SECRET.length}\n400:0\nenv-ok\n`);
    expect(f("/from-bind")).toBe("bound\n");
    expect(f("/tmpfs")).toBe("1777\n");
    expect(f("/net")).toBe("lo\n<LOOPBACK,UP,LOWER_UP>\n");
    // None of the mounts' contents are in the image; what the image had under a target is, unchanged.
    for (const p of ["/root/.cache", "/run/secrets", "/data", "/scratch", "/var/cache/app/k"]) expect(img.files.get(p)).toBeUndefined();
    expect(f("/var/cache/app/own")).toBe("image\n");
    // Each layer holds its RUN's own file and nothing placed for the mounts.
    const layers = await layerNames("mounts");
    expect(layers.slice(-6)).toEqual([["cache-1"], ["cache-2"], ["secret"], ["from-bind"], ["tmpfs"], ["net"]]);
    // The secret is nowhere: no file, no history entry, no log line.
    for (const [p, e] of img.files) expect(`${p} ${e.content ?? ""}`).not.toContain(SECRET);
    expect(JSON.stringify(img.config.history)).not.toContain(SECRET);
    expect(JSON.stringify(img.config.history)).not.toContain("KILN_TOK");
    expect(r.stderr + r.stdout).not.toContain(SECRET);
  }, 180_000);

  test("--network=none without CAP_SYS_ADMIN fails with one clear error and pushes nothing", async () => {
    const r = await build({ Dockerfile: `FROM ${fx.base}\nRUN --network=none echo ran > /ran\n` }, "nonet", [], [], ["sys_admin"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Dockerfile:2");
    expect(r.stderr).toContain("--network=none needs a network namespace of its own");
    expect(r.stderr).toContain("CAP_SYS_ADMIN");
    expect(r.stderr).not.toContain("Pushed");
  }, 120_000);
});
