// git:// build contexts with the compiled binary: git's own http-backend on 127.0.0.1 (plain HTTP with
// GIT_PULL_METHOD=http, and HTTPS behind basic auth with a throwaway CA), each ref form kaniko takes, --git options,
// submodules, auth, --context-sub-path. Each repo state's Dockerfile is `FROM scratch` + `COPY . /ctx`; the image's
// one layer is read from the OCI layout.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runKiln } from "../support/kiln.ts";
import { useTempDirs } from "../support/e2e.ts";
import { useContextGitServers } from "../support/git-server.ts";

const git = useContextGitServers();
const { tmp: temp } = useTempDirs();


function sh(cmd: string[], cwd?: string): string {
  const p = Bun.spawnSync(cmd, { cwd, stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** Builds with dist/kiln; on success returns the paths in the image's one layer and a reader for its files. */
async function build(args: string[], env: Record<string, string> = { GIT_PULL_METHOD: "http" }) {
  const out = temp("kiln-e2e-gitctx-out-");
  const work = join(out, "kiln");
  const r = await runKiln([...args, "--no-push", "--oci-layout-path", join(out, "oci"), "--kaniko-dir", work], { flavour: "binary", env });
  if (r.code !== 0) return { ...r, work, paths: [] as string[], file: (_: string) => undefined as string | undefined };
  const blob = (d: string) => join(out, "oci/blobs", ...d.split(":"));
  const index = JSON.parse(await Bun.file(join(out, "oci/index.json")).text());
  const manifest = JSON.parse(await Bun.file(blob(index.manifests[0].digest)).text());
  expect(manifest.layers.length).toBe(1);
  const layer = blob(manifest.layers[0].digest);
  const paths = sh(["tar", "-tzf", layer]).split("\n").filter(Boolean).map((p) => p.replace(/\/$/, ""));
  const file = (p: string) => (paths.includes(`ctx/${p}`) ? sh(["tar", "-xzOf", layer, `ctx/${p}`]).trim() : undefined);
  return { ...r, work, paths, file };
}

describe("git contexts (dist/kiln)", () => {
  test("the default branch: full clone with .git kept, submodule directory empty", async () => {
    const r = await build(["--context", `git://${git.plain.host}/main.git`]);
    expect(r.code).toBe(0);
    expect(r.file("which.txt")).toBe("v2");
    expect(r.paths).toContain("ctx/.git/HEAD");
    expect(r.paths).toContain("ctx/lib");
    expect(r.paths.filter((p) => p.startsWith("ctx/lib/"))).toEqual([]);
    expect(readdirSync(r.work).filter((e) => e === "context")).toEqual([]); // the clone is removed after the build
  });

  test("#refs/heads/x, #refs/tags/t, #commit, and --git branch=", async () => {
    const spec = `git://${git.plain.host}/main.git`;
    expect((await build(["--context", `${spec}#refs/heads/feature`])).file("which.txt")).toBe("feature");
    expect((await build(["--context", `${spec}#refs/tags/t1`])).file("which.txt")).toBe("tag");
    expect((await build(["--context", `${spec}#${git.repos.oldCommit}`])).file("which.txt")).toBe("v1");
    expect((await build(["--context", spec, "--git", "branch=feature,single-branch=true"])).file("which.txt")).toBe("feature");
  });

  test("recurse-submodules=true brings the submodule's files at the recorded commit; =false leaves them out", async () => {
    const spec = `git://${git.plain.host}/main.git`;
    expect((await build(["--context", spec, "--git", "recurse-submodules=true"])).file("lib/lib.txt")).toBe("from the submodule");
    const without = await build(["--context", spec, "--git", "recurse-submodules=false"]);
    expect(without.code).toBe(0);
    expect(without.file("lib/lib.txt")).toBeUndefined();
  });

  test("a Dockerfile in --context-sub-path of the repository", async () => {
    const r = await build(["--context", `git://${git.plain.host}/main.git`, "--context-sub-path", "app"]);
    expect(r.code).toBe(0);
    expect(r.file("app.txt")).toBe("app");
    expect(r.file("which.txt")).toBeUndefined();
  });

  test("HTTPS with basic auth: git:// goes over https; SSL_CERT_FILE or insecure-skip-tls; 401 names the variables", async () => {
    const spec = `git://${git.secure.host}/main.git`;
    const ok = await build(["--context", spec, "--git", "recurse-submodules=true"], { SSL_CERT_FILE: git.ca, GIT_USERNAME: "alice", GIT_PASSWORD: "pw" });
    expect(ok.code).toBe(0);
    expect(ok.file("lib/lib.txt")).toBe("from the submodule");
    const skip = await build(["--context", spec, "--git", "insecure-skip-tls=true"], { GIT_USERNAME: "alice", GIT_PASSWORD: "pw" });
    expect(skip.code).toBe(0);
    expect(skip.file("which.txt")).toBe("v2");

    const untrusted = await build(["--context", spec], { GIT_USERNAME: "alice", GIT_PASSWORD: "pw" });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toContain("certificate is not trusted");
    const denied = await build(["--context", spec], { SSL_CERT_FILE: git.ca });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("set GIT_TOKEN, or GIT_USERNAME and GIT_PASSWORD");
    const refused = await build(["--context", spec], { SSL_CERT_FILE: git.ca, GIT_USERNAME: "alice", GIT_PASSWORD: "nope" });
    expect(refused.stderr).toContain("refused the credentials (from GIT_USERNAME and GIT_PASSWORD)");
    expect(refused.stderr).not.toContain("nope");
  });

  test("a ref that does not exist: one line naming the repo and the ref, nothing left in the work dir", async () => {
    const r = await build(["--context", `git://${git.plain.host}/main.git#refs/heads/nope`]);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("INFO"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/git:\/\/127\.0\.0\.1:\d+\/main\.git#refs\/heads\/nope: .*refs\/heads\/nope does not exist in the repository/);
    expect(readdirSync(r.work).filter((e) => e === "context")).toEqual([]);
  });
});
