import { expect, test } from "bun:test";
import { byteSize, contextSpec, FlagError, gitOptions, parseExecutorArgs } from "./flags.ts";

const parse = (argv: string[], env: Record<string, string> = {}) => parseExecutorArgs(["--no-push", ...argv], env, "/cwd");

test("--context: local forms become absolute, URLs and tar://stdin stay as given", () => {
  expect(contextSpec("ctx", "/cwd")).toBe("/cwd/ctx");
  expect(contextSpec("dir://ctx", "/cwd")).toBe("dir:///cwd/ctx");
  expect(contextSpec("tar://ctx.tar.gz", "/cwd")).toBe("tar:///cwd/ctx.tar.gz");
  expect(contextSpec("tar:///abs/ctx.tar.gz", "/cwd")).toBe("tar:///abs/ctx.tar.gz");
  for (const s of ["tar://stdin", "s3://b/k.tar.gz", "gs://b/k.tar.gz", "git://github.com/a/b.git#refs/heads/x", "https://h/c.tar.gz"]) {
    expect(contextSpec(s, "/cwd")).toBe(s);
  }
  // The old abs() left an https URL alone but the Dockerfile URL must be kept too.
  expect(parse(["--dockerfile", "https://h/Dockerfile"]).options.dockerfile).toBe("https://h/Dockerfile");
});

test("--git takes kaniko's keys, repeated or comma-separated, and no longer warns that it does nothing", () => {
  const p = parse(["--git", "branch=main,single-branch=true", "--git=recurse-submodules=true", "--git", "insecure-skip-tls=false"]);
  expect(p.options.git).toEqual({ branch: "main", singleBranch: true, recurseSubmodules: true, insecureSkipTLS: false });
  expect(p.warnings).toEqual([]);
  expect(gitOptions(["branch=a,b"])).toEqual({ branch: "a,b" });
  expect(() => gitOptions(["depth=1"])).toThrow(FlagError);
  expect(() => gitOptions(["single-branch=maybe"])).toThrow(/not a boolean/);
});

test("--context-size-limit: sizes with units; the environment reaches the options as a value", () => {
  expect(byteSize("x", "10GiB")).toBe(10 * 1024 ** 3);
  expect(byteSize("x", "500MB")).toBe(500e6);
  expect(byteSize("x", "1048576")).toBe(1048576);
  expect(byteSize("x", "1.5k")).toBe(1536);
  expect(() => byteSize("context-size-limit", "lots")).toThrow(/--context-size-limit "lots": give a size/);
  const p = parse(["--context-size-limit=2MiB"], { S3_ENDPOINT: "http://127.0.0.1:9000" });
  expect(p.options.contextSizeLimit).toBe(2 * 1024 ** 2);
  expect(p.options.env?.S3_ENDPOINT).toBe("http://127.0.0.1:9000");
  expect(parse([]).options.contextSizeLimit).toBeUndefined();
});
