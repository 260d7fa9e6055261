import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contextTarGz, rawTarGz } from "../../tests/support/context-archives.ts";
import { contextKind, openContext } from "./context.ts";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const fresh = () => { const d = mkdtempSync(join(tmpdir(), "kiln-ctx-test-")); dirs.push(d); return d; };

test("each kaniko context form goes to its source", () => {
  const kinds: Record<string, string> = {
    "/workspace": "dir", "rel/dir": "dir", "dir:///workspace": "dir", "tar:///ctx.tar.gz": "tar", "tar://stdin": "stdin",
    "s3://bucket/ctx.tar.gz": "s3", "gs://bucket/ctx.tar.gz": "gs",
    "https://myaccount.blob.core.windows.net/container/ctx.tar.gz": "azblob", "https://acct.blob.core.usgovcloudapi.net/c/x.tar.gz": "azblob",
    "git://github.com/acme/app.git#refs/heads/main#0123abc": "git", "https://github.com/acme/app.git": "git",
    "https://github.com/acme/app.git#refs/tags/v1": "git", "https://example.com/ctx.tar.gz": "https", "http://127.0.0.1:8080/c.tgz": "https",
    // Not a blob host: only the account's own subdomain is.
    "https://blob.core.windows.net.example.com/c/x.tar.gz": "https",
  };
  for (const [spec, kind] of Object.entries(kinds)) expect([spec, contextKind(spec).kind]).toEqual([spec, kind]);
  expect(() => contextKind("ftp://host/ctx.tar.gz")).toThrow(/unknown source "ftp:\/\/"; use a path, dir:\/\//);
});

test("--context-sub-path applies to a plain path as to dir://, and may not leave the context", async () => {
  const root = fresh();
  mkdirSync(join(root, "app"));
  writeFileSync(join(root, "app/.dockerignore"), "secret\n");
  for (const spec of [root, `dir://${root}`]) {
    const ctx = await openContext(spec, { contextSubPath: "app" });
    expect(ctx.dir).toBe(join(root, "app"));
    expect(ctx.ignore.ignores("secret")).toBe(true);
  }
  await expect(openContext(root, { contextSubPath: "../.." })).rejects.toThrow(/--context-sub-path \.\.\/\.\.: leads out of the context/);
  await expect(openContext(root, { contextSubPath: "nope" })).rejects.toThrow(/--context-sub-path nope: no such directory in the context/);
});

test("a tar:// context unpacks into <workDir>/context, sub-path included; cleanup removes it", async () => {
  const dir = fresh();
  writeFileSync(join(dir, "ctx.tar.gz"), contextTarGz({ "svc/Dockerfile": "FROM scratch\n", "svc/a": "a" }));
  const work = join(dir, "work");
  mkdirSync(work);
  const ctx = await openContext(`tar://${join(dir, "ctx.tar.gz")}`, { workDir: work, contextSubPath: "svc" });
  expect(ctx.dir).toBe(join(work, "context/svc"));
  expect(readdirSync(ctx.dir).sort()).toEqual(["Dockerfile", "a"]);
  await ctx.cleanup();
  expect(readdirSync(work)).toEqual([]);
});

test("a refused archive, a missing file, a terminal on stdin: one ContextError, nothing left in the work dir", async () => {
  const dir = fresh();
  writeFileSync(join(dir, "bad.tar.gz"), rawTarGz([{ name: "ok", body: "x" }, { name: "../up", body: "x" }]));
  const work = join(dir, "work");
  mkdirSync(work);
  await expect(openContext(`tar://${join(dir, "bad.tar.gz")}`, { workDir: work })).rejects.toThrow(/entry "\.\.\/up" climbs out/);
  expect(readdirSync(work)).toEqual([]);
  await expect(openContext(`tar://${join(dir, "none.tar.gz")}`, { workDir: work })).rejects.toThrow(`${join(dir, "none.tar.gz")} does not exist`);
  await expect(openContext("tar://stdin", { workDir: work, stdin: { isTerminal: true, stream: () => { throw new Error("read"); } } }))
    .rejects.toThrow(/standard input is a terminal; pipe a gzip'd tar of the context in/);
  expect(existsSync(join(work, "context"))).toBe(false);
});
