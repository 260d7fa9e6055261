// git:// contexts against git's own http-backend on 127.0.0.1 (basic auth, TLS with a throwaway CA): every ref form
// kaniko accepts, --git options, submodules, and the failures (one ContextError line, nothing left behind).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchGitContext, gitContextAuth, parseGitContext, parseGitmodules, submoduleUrl } from "./git-context.ts";
import type { ContextFetchOptions, GitContextOptions } from "./source.ts";
import { useTempDirs } from "../../tests/support/e2e.ts";
import { useContextGitServers } from "../../tests/support/git-server.ts";

describe("spec and environment", () => {
  test("git:// is cloned over https unless GIT_PULL_METHOD=http (kaniko); #ref and #commit split off", () => {
    expect(parseGitContext("git://github.com/acme/p.git#refs/heads/b#0123", {})).toEqual({
      url: "https://github.com/acme/p.git", display: "git://github.com/acme/p.git#refs/heads/b#0123", ref: "refs/heads/b", commit: "0123",
    });
    expect(parseGitContext("git://h/p", { GIT_PULL_METHOD: "http" }).url).toBe("http://h/p");
    expect(parseGitContext("git://h/p", { GIT_PULL_METHOD: "ssh" }).url).toBe("https://h/p");
    expect(parseGitContext("https://h/p.git#refs/tags/t", {})).toMatchObject({ url: "https://h/p.git", ref: "refs/tags/t" });
  });

  test("a token in the URL is used but never shown", () => {
    const s = parseGitContext("git://s3cret@github.com/acme/p.git", {});
    expect(s.url).toBe("https://github.com/acme/p.git");
    expect(s.display).not.toContain("s3cret");
    expect(s.urlAuth).toEqual({ username: "s3cret", password: "" });
  });

  test("credentials as kaniko combines them: GIT_TOKEN is the username with an empty password and wins", () => {
    expect(gitContextAuth({ GIT_TOKEN: "t", GIT_USERNAME: "u", GIT_PASSWORD: "p" }).auth).toEqual({ username: "t", password: "" });
    expect(gitContextAuth({ GIT_USERNAME: "u", GIT_PASSWORD: "p" }).auth).toEqual({ username: "u", password: "p" });
    expect(gitContextAuth({ GIT_PASSWORD: "p" }).auth).toEqual({ username: "", password: "p" });
    expect(gitContextAuth({}, { username: "x", password: "" }).auth).toEqual({ username: "x", password: "" });
    expect(gitContextAuth({}).auth).toBeUndefined();
  });

  test(".gitmodules sections and submodule URLs resolved against the parent's", () => {
    const mods = parseGitmodules('[core]\n\tx = 1\n[submodule "a"]\n\tpath = deps/a ; comment\n\turl = ../a.git\n[submodule "b"]\n\tpath = b\n');
    expect(mods).toEqual([{ name: "a", path: "deps/a", url: "../a.git" }]);
    expect(submoduleUrl("https://h/org/main.git", "../a.git", {})).toBe("https://h/org/a.git");
    expect(submoduleUrl("https://h/org/main.git/", "./a.git", {})).toBe("https://h/org/main.git/a.git");
    expect(submoduleUrl("https://h/org/main", "git://other/x.git", { GIT_PULL_METHOD: "http" })).toBe("http://other/x.git");
    expect(submoduleUrl("https://h/org/main", "https://other/x.git", {})).toBe("https://other/x.git");
  });
});

describe("fetching from a git server", () => {
  const git = useContextGitServers();
  const { tmp: temp } = useTempDirs();


  async function fetchCtx(spec: string, git: GitContextOptions = {}, env: ContextFetchOptions["env"] = { GIT_PULL_METHOD: "http" }, maxBytes = 1 << 30) {
    const parent = temp("kiln-gitctx-out-");
    const dest = join(parent, "ctx");
    const file = (p: string) => (existsSync(join(dest, p)) ? readFileSync(join(dest, p), "utf8").trim() : undefined);
    try {
      const dir = await fetchGitContext(spec, dest, { env, git, maxBytes });
      return { dir, which: file("which.txt"), lib: file("lib/lib.txt"), entries: readdirSync(dest).sort(), parent };
    } catch (e) {
      return { error: e as Error, left: readdirSync(parent), parent };
    }
  }

  test("the default branch, with .git kept as kaniko keeps it and submodules left empty", async () => {
    const r = await fetchCtx(`git://${git.plain.host}/main.git`);
    expect(r.which).toBe("v2");
    expect(r.entries).toEqual([".git", ".gitmodules", "Dockerfile", "app", "lib", "which.txt"]);
    expect(r.lib).toBeUndefined();
    const head = Bun.spawnSync(["git", "-C", r.dir!, "rev-parse", "HEAD~2"], { env: { PATH: "/usr/bin:/bin" } });
    expect(head.stdout.toString().trim()).toBe(git.repos.oldCommit); // full history, readable by git itself
  });

  test("#refs/heads/x, #refs/tags/t, #commit, #ref#commit", async () => {
    expect((await fetchCtx(`git://${git.plain.host}/main.git#refs/heads/feature`)).which).toBe("feature");
    expect((await fetchCtx(`git://${git.plain.host}/main.git#refs/tags/t1`)).which).toBe("tag");
    expect((await fetchCtx(`git://${git.plain.host}/main.git#${git.repos.oldCommit}`)).which).toBe("v1");
    expect((await fetchCtx(`git://${git.plain.host}/main.git#refs/heads/main#${git.repos.oldCommit}`)).which).toBe("v1");
    expect((await fetchCtx(`${git.plain.url}/main.git#refs/heads/feature`)).which).toBe("feature");
  });

  test("--git branch= names a branch or a tag; single-branch", async () => {
    expect((await fetchCtx(`git://${git.plain.host}/main.git`, { branch: "feature" })).which).toBe("feature");
    expect((await fetchCtx(`git://${git.plain.host}/main.git`, { branch: "t1", singleBranch: true })).which).toBe("tag");
  });

  test("recurse-submodules=true clones the submodule at the recorded commit, not its branch head", async () => {
    const r = await fetchCtx(`git://${git.plain.host}/main.git`, { recurseSubmodules: true });
    expect(r.lib).toBe("from the submodule");
  });

  test("TLS: an untrusted CA fails with what to do; SSL_CERT_FILE or insecure-skip-tls; auth from the environment", async () => {
    const spec = `git://${git.secure.host}/main.git`;
    const untrusted = await fetchCtx(spec, {}, { GIT_TOKEN: "tok" });
    expect(untrusted.error?.message).toMatch(/^--context git:\/\/127\.0\.0\.1:\d+\/main\.git: .*certificate is not trusted.*SSL_CERT_FILE.*insecure-skip-tls=true$/);
    expect((await fetchCtx(spec, { insecureSkipTLS: true, recurseSubmodules: true }, { GIT_TOKEN: "tok" })).lib).toBe("from the submodule");
    expect((await fetchCtx(spec, {}, { SSL_CERT_FILE: git.ca, GIT_USERNAME: "alice", GIT_PASSWORD: "pw" })).which).toBe("v2");
    expect((await fetchCtx(`git://tok@${git.secure.host}/main.git`, {}, { SSL_CERT_FILE: git.ca })).which).toBe("v2");
  });

  test("401 says which variables to set, or that the given ones were refused", async () => {
    const spec = `git://${git.secure.host}/main.git#refs/heads/feature`;
    const none = await fetchCtx(spec, {}, { SSL_CERT_FILE: git.ca });
    expect(none.error?.message).toMatch(/main\.git#refs\/heads\/feature: .*HTTP 401.*set GIT_TOKEN, or GIT_USERNAME and GIT_PASSWORD$/);
    const bad = await fetchCtx(spec, {}, { SSL_CERT_FILE: git.ca, GIT_USERNAME: "alice", GIT_PASSWORD: "wrong" });
    expect(bad.error?.message).toContain("refused the credentials (from GIT_USERNAME and GIT_PASSWORD)");
    expect(bad.error?.message).not.toContain("wrong");
  });

  test("bad input: one ContextError naming the repo and ref, nothing left behind", async () => {
    const cases: [string, GitContextOptions, RegExp][] = [
      [`git://${git.plain.host}/main.git#refs/heads/nope`, {}, /main\.git#refs\/heads\/nope: .*refs\/heads\/nope does not exist/],
      [`git://${git.plain.host}/main.git#${"0".repeat(40)}`, {}, /commit 0{40} does not exist/],
      [`git://${git.plain.host}/main.git`, { branch: "nope" }, /\(--git branch=nope\): no branch or tag named nope/],
      [`git://${git.plain.host}/absent.git`, {}, /absent\.git: .*HTTP 404/],
      [`git://127.0.0.1:1/main.git`, {}, /127\.0\.0\.1:1\/main\.git: .*cannot reach the server/],
    ];
    for (const [spec, git, re] of cases) {
      const r = await fetchCtx(spec, git);
      expect(r.error?.name).toBe("ContextError");
      expect(r.error?.message).toMatch(re);
      expect(r.error?.message).not.toContain("\n");
      expect(r.left).toEqual([]);
    }
  });

  test("a repository past --context-size-limit is refused while it downloads", async () => {
    const r = await fetchCtx(`git://${git.plain.host}/main.git`, {}, { GIT_PULL_METHOD: "http" }, 1024);
    expect(r.error?.message).toMatch(/main\.git: the repository is larger than the limit of .*; raise it with --context-size-limit$/);
    expect(r.left).toEqual([]);
    expect((await fetchCtx(`git://${git.plain.host}/main.git`, {}, { GIT_PULL_METHOD: "http" }, 64 * 1024)).which).toBe("v2");
  });
});
