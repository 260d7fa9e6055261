// COPY and ADD flags and sources, built by the kiln CLI from a busybox base in a real registry: --chmod (octal,
// symbolic), --chown (names from the stage, numeric), --parents, --exclude, --link, wildcards, .dockerignore inside
// directories, destinations through symlinks, heredocs; ADD archives (plain, gzip, bzip2, xz, zstd), remote files
// from a Bun.serve on 127.0.0.1, and git repositories from git's own http-backend. Checked with skopeo+umoci.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusybox } from "../support/base-images.ts";
import { cleanupInspected, inspectOciLayout, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { startGitServer, type GitServer } from "../support/git-server.ts";

let reg: TestRegistry;
let base: string;
let web: ReturnType<typeof Bun.serve>;
let gitServer: GitServer;
let firstCommit: string;
const cleanup: string[] = [];
const inspected: InspectedImage[] = [];
const REMOTE = "remote file body\n";
const LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT";

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(d);
  return d;
}

function sh(cmd: string, cwd: string): string {
  const p = Bun.spawnSync(["sh", "-c", cmd], { cwd, stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: cwd } });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

beforeAll(async () => {
  reg = await startRegistry();
  base = await pushBusybox(reg);
  web = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/files/remote.txt") return new Response(REMOTE, { headers: { "Last-Modified": LAST_MODIFIED } });
      return new Response("no such file", { status: 404 });
    },
  });
  const repos = tmp("kiln-git-");
  const work = join(repos, "work");
  mkdirSync(join(work, "sub"), { recursive: true });
  writeFileSync(join(work, "top.txt"), "v1 top\n");
  writeFileSync(join(work, "sub/inner.txt"), "v1 inner\n");
  const g = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main";
  sh(`${g} init -q && ${g} add . && ${g} commit -qm one && ${g} tag v1`, work);
  firstCommit = sh("git rev-parse HEAD", work);
  writeFileSync(join(work, "top.txt"), "v2 top\n");
  sh(`${g} commit -qam two && git clone -q --bare . ../repo.git`, work);
  gitServer = startGitServer(repos);
}, 60_000);
afterAll(async () => {
  web?.stop(true);
  gitServer?.stop();
  await reg?.stop();
  for (const i of inspected) await cleanupInspected(i);
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

async function build(dockerfile: string, files: Record<string, string> = {}, prepare?: (ctx: string) => void) {
  const ctx = makeContext({ Dockerfile: dockerfile, ...files });
  cleanup.push(ctx);
  prepare?.(ctx);
  const out = join(tmp("kiln-copy-out-"), "oci");
  const r = await runKiln(["--context", ctx, "--no-push", "--insecure-registry", reg.host, "--oci-layout-path", out]);
  return { ...r, out };
}

/** Tar archives of t/file.txt (owner 1234:5678) in every codec ADD sniffs, and a gzip file that is not a tar. */
function makeArchives(ctx: string): void {
  mkdirSync(join(ctx, "arch/t"), { recursive: true });
  writeFileSync(join(ctx, "arch/t/file.txt"), "in the archive\n");
  const t = "tar --owner=1234 --group=5678 --numeric-owner --mtime=@1500000000 -C arch -cf";
  sh(`${t} arch.tar t && gzip -kc arch.tar > arch.tar.gz && bzip2 -kc arch.tar > arch.tar.bz2 && xz -kc arch.tar > arch.tar.xz && zstd -qc arch.tar > arch.tar.zst`, ctx);
  sh("printf 'plain text\\n' | gzip -c > notar.gz && rm -r arch", ctx);
}

describe("COPY and ADD", () => {
  let img: InspectedImage;
  const f = (p: string) => img.files.get(p);

  beforeAll(async () => {
    const sum = createHash("sha256").update(REMOTE).digest("hex");
    const w = `http://127.0.0.1:${web.port}`;
    const r = await build(`FROM ${base}
RUN echo 'app:x:1000:1001::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1001:' >> /etc/group && echo 'other:x:2000:' >> /etc/group && mkdir /real && ln -s /real /link
COPY --chmod=u+x,g-r a.txt /sym/a.txt
COPY --chmod=640 dir /oct/
COPY --chown=app dir/x.txt /own/name/x.txt
COPY --chown=app:other a.txt /own2/
COPY --chown=42 a.txt /own3/
COPY --chown=7:8 a.txt /own4/
COPY a.txt /link/through/
COPY --parents parents/p1/f.txt parents/p2/ /par/
COPY --parents parents/./p1/f.txt /piv/
COPY --exclude=*.md --exclude=sub dir /ex/
COPY --exclude=b.txt *.txt /wild/
COPY --link a.txt /linked.txt
COPY dir /plain/
COPY <<EOF /heredoc.txt
hello heredoc
EOF
ADD arch.tar arch.tar.gz arch.tar.bz2 arch.tar.xz arch.tar.zst /unpacked/
ADD notar.gz /raw/
ADD --chown=7:8 arch.tar /unp-owned/
ADD ${w}/files/remote.txt /dl/
ADD ${w}/files/remote.txt /dl-named.txt
ADD --checksum=sha256:${sum} ${w}/files/remote.txt /dl-sum.txt
ADD ${gitServer.url}/repo.git#v1:sub /git/
ADD --keep-git-dir ${gitServer.url}/repo.git /gitkeep/
ADD ${gitServer.url}/repo.git#${firstCommit} /gitsha/
`, {
      "a.txt": "a\n", "b.txt": "b\n", "c.md": "c\n",
      "dir/x.txt": "x\n", "dir/sub/y.md": "y\n", "dir/skip.log": "log\n", "dir/z.md": "z\n",
      "parents/p1/f.txt": "f\n", "parents/p2/g.txt": "g\n",
      ".dockerignore": "**/*.log\n",
    }, (ctx) => { chmodSync(join(ctx, "a.txt"), 0o644); chmodSync(join(ctx, "dir"), 0o755); makeArchives(ctx); });
    if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stderr}`);
    img = await inspectOciLayout(r.out);
    inspected.push(img);
  }, 180_000);

  test("--chmod: symbolic on files; octal on files and copied directories, not on the destination COPY creates", () => {
    expect(f("/sym/a.txt")?.mode).toBe(0o704);
    expect(f("/oct/x.txt")?.mode).toBe(0o640);
    expect(f("/oct")).toMatchObject({ type: "dir", mode: 0o755 });
    expect(f("/oct/sub")).toMatchObject({ type: "dir", mode: 0o640 });
    expect(f("/oct/sub/y.md")?.mode).toBe(0o640);
  });

  test("--chown: user name (primary group), user:group names, numeric uid as gid, uid:gid; implicit parents too", () => {
    expect(f("/own/name/x.txt")).toMatchObject({ uid: 1000, gid: 1001 });
    expect(f("/own/name")).toMatchObject({ type: "dir", uid: 1000, gid: 1001 });
    expect(f("/own")).toMatchObject({ type: "dir", uid: 1000, gid: 1001 });
    expect(f("/own2/a.txt")).toMatchObject({ uid: 1000, gid: 2000 });
    expect(f("/own3/a.txt")).toMatchObject({ uid: 42, gid: 42 });
    expect(f("/own4/a.txt")).toMatchObject({ uid: 7, gid: 8 });
  });

  test("destination through a symlinked directory", () => {
    expect(f("/real/through/a.txt")?.content).toBe("a\n");
    expect(f("/link")).toMatchObject({ type: "symlink", linkTarget: "/real" });
  });

  test("--parents keeps source paths, from the context root or from a /./ pivot", () => {
    expect(f("/par/parents/p1/f.txt")?.content).toBe("f\n");
    expect(f("/par/parents/p2/g.txt")?.content).toBe("g\n");
    expect(f("/piv/p1/f.txt")?.content).toBe("f\n");
    expect(f("/piv/parents")).toBeUndefined();
  });

  test("--exclude patterns, wildcards, .dockerignore inside copied directories, --link, heredocs", () => {
    expect([...img.files.keys()].filter((p) => p.startsWith("/ex/")).sort()).toEqual(["/ex/x.txt"]);
    expect([...img.files.keys()].filter((p) => p.startsWith("/wild/")).sort()).toEqual(["/wild/a.txt"]);
    expect(f("/plain/x.txt")?.content).toBe("x\n");
    expect(f("/plain/sub/y.md")?.content).toBe("y\n");
    expect(f("/plain/skip.log")).toBeUndefined();
    expect(f("/linked.txt")?.content).toBe("a\n");
    expect(f("/heredoc.txt")?.content).toBe("hello heredoc\n");
  });

  test("ADD unpacks tar archives in every codec, keeps their owners unless --chown, copies a compressed non-tar as is", () => {
    expect(f("/unpacked/t/file.txt")).toMatchObject({ content: "in the archive\n", uid: 1234, gid: 5678, mtime: 1500000000 });
    for (const name of ["arch.tar", "arch.tar.gz", "arch.tar.bz2", "arch.tar.xz", "arch.tar.zst"]) expect(f(`/unpacked/${name}`)).toBeUndefined();
    expect(f("/raw/notar.gz")?.type).toBe("file");
    expect(f("/raw/plain text")).toBeUndefined();
    expect(f("/unp-owned/t/file.txt")).toMatchObject({ uid: 7, gid: 8 });
  });

  test("ADD of a URL: mode 0600, mtime from Last-Modified, named after the URL or the destination, checksum verified", () => {
    const mtime = Date.parse(LAST_MODIFIED) / 1000;
    expect(f("/dl/remote.txt")).toMatchObject({ content: REMOTE, mode: 0o600, mtime, uid: 0 });
    expect(f("/dl-named.txt")).toMatchObject({ content: REMOTE, mode: 0o600 });
    expect(f("/dl-sum.txt")?.content).toBe(REMOTE);
  });

  test("ADD of a git URL: ref and subdir, .git only with --keep-git-dir, a commit id", () => {
    expect(f("/git/inner.txt")?.content).toBe("v1 inner\n");
    expect(f("/git/top.txt")).toBeUndefined();
    expect(f("/git/.git")).toBeUndefined();
    expect(f("/gitkeep/top.txt")?.content).toBe("v2 top\n");
    expect(f("/gitkeep/.git")?.type).toBe("dir");
    expect(f("/gitsha/top.txt")?.content).toBe("v1 top\n");
    expect(f("/gitsha/.git")).toBeUndefined();
  });
});

describe("COPY and ADD errors", () => {
  const cases: [string, string, string[]][] = [
    ["a wildcard matching nothing", "COPY nomatch*.txt /x/", ["Dockerfile:2", "nomatch*.txt", "no source files were specified"]],
    ["a missing source", "COPY missing.txt /x", ["Dockerfile:2", `"missing.txt" not found`]],
    ["a bad --chmod", "COPY --chmod=u+q a.txt /x", ["Dockerfile:2", "--chmod=u+q"]],
    ["several sources to a file", "COPY a.txt b.txt /x", ["destination must be a directory"]],
  ];
  for (const [name, line, needles] of cases) {
    test(name, async () => {
      const r = await build(`FROM ${base}\n${line}\n`, { "a.txt": "a\n", "b.txt": "b\n" });
      expect(r.code).toBe(1);
      for (const n of needles) expect(r.stderr).toContain(n);
      expect(existsSync(r.out)).toBe(false);
    }, 60_000);
  }

  test("an HTTP error names the URL and the status", async () => {
    const url = `http://127.0.0.1:${web.port}/files/missing.txt`;
    const r = await build(`FROM ${base}\nADD ${url} /x\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(url);
    expect(r.stderr).toContain("404");
  }, 60_000);

  test("a checksum mismatch", async () => {
    const r = await build(`FROM ${base}\nADD --checksum=sha256:${"0".repeat(64)} http://127.0.0.1:${web.port}/files/remote.txt /x\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("checksum mismatch");
  }, 60_000);

  test("a git ref that does not exist", async () => {
    const r = await build(`FROM ${base}\nADD ${gitServer.url}/repo.git#nosuchbranch /x/\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("repo.git at nosuchbranch");
  }, 60_000);
});
