import { test, expect } from "bun:test";
import { parseExecutorArgs, parseWarmerArgs, FlagError, splitShortEquals, wantsVersion } from "./flags.ts";
import { resolveOptions } from "../mod.ts";

const parse = (argv: string[], env: Record<string, string> = {}) => parseExecutorArgs(argv, env, "/cwd");

test("pflag forms: --flag=value, --flag value, repeatable lists, bare and explicit booleans", () => {
  const p = parse(["--context=ctx", "-f", "Df", "-d", "r/a:1", "--destination=r/b:2", "--insecure", "--insecure-pull=false", "--label", "a=1", "--label=b=2"]);
  expect(p.options.context).toBe("/cwd/ctx");
  expect(p.options.dockerfile).toBe("Df");
  expect(p.options.destinations).toEqual(["r/a:1", "r/b:2"]);
  expect(p.options.registry?.insecurePush).toBe(true);
  expect(p.options.registry?.insecurePull).toBe(false);
  expect(p.options.labels).toEqual({ a: "1", b: "2" });
});

test("--no-push, --no-push=false and KANIKO_NO_PUSH", () => {
  expect(parse(["--no-push"]).options.noPush).toBe(true);
  expect(() => parse(["--no-push=false"])).toThrow(/--destination/);
  expect(parse([], { KANIKO_NO_PUSH: "true" }).options.noPush).toBe(true);
  expect(() => parse([], { KANIKO_NO_PUSH: "maybe" })).toThrow(/KANIKO_NO_PUSH/);
});

test("bare --build-arg NAME takes the environment's value", () => {
  const p = parse(["--no-push", "--build-arg", "A=1", "--build-arg", "B", "--build-arg", "C", "--build-arg", "D=x=y"], { B: "from-env" });
  expect(p.options.buildArgs).toEqual({ A: "1", B: "from-env", C: undefined, D: "x=y" });
});

test("bad values name their flag", () => {
  expect(() => parse(["--no-push", "--compression", "lzma"])).toThrow(/--compression/);
  expect(() => parse(["--no-push", "--verbosity", "loud"])).toThrow(/--verbosity/);
  expect(() => parse(["--no-push", "--custom-platform", "linux"])).toThrow(/--custom-platform/);
  expect(() => parse(["--no-push", "--push-retry", "x"])).toThrow(/--push-retry/);
  expect(() => parse(["--no-push", "--push-retry", "-5"])).toThrow("--push-retry -5: give 0 or more retries");
  expect(() => parse(["--no-push", "--image-download-retry=-1"])).toThrow(/--image-download-retry -1/);
  expect(() => parse(["--no-push", "--image-fs-extract-retry", "-2"])).toThrow(/--image-fs-extract-retry -2/);
  expect(() => parse(["--no-push", "--nonsense"])).toThrow(FlagError);
  expect(() => parse(["--image-name-with-digest-file", "f", "--no-push"])).toThrow(/need a --destination/);
});

test("unimplemented kaniko flags are accepted with a warning", () => {
  const p = parse(["--no-push", "--use-new-run", "--force-build-metadata"]);
  expect(p.warnings.some((w) => w.includes("--use-new-run "))).toBe(true);
  expect(p.warnings.some((w) => w.includes("--force-build-metadata "))).toBe(true);
});

test("the cache flags: kaniko's names and defaults, no warning", () => {
  const cache = (argv: string[]) => parse(["--no-push", ...argv]);
  expect(cache([]).options.cache).toEqual({ enabled: false, copyLayers: false, runLayers: true, write: true });
  const on = cache(["--cache=true", "--cache-repo", "reg.example/team/cache", "--cache-copy-layers", "--cache-run-layers=false", "--no-push-cache", "--compressed-caching=false"]);
  expect(on.options.cache).toEqual({ enabled: true, repo: "reg.example/team/cache", copyLayers: true, runLayers: false, write: false });
  expect(on.warnings).toEqual([]);
  expect(cache(["--cache", "--cache-repo", "oci:rel/dir"]).options.cache?.repo).toBe("oci:/cwd/rel/dir");
});

test("/var/run is ignored unless --ignore-var-run=false; deprecated aliases work", () => {
  const ignorePaths = (argv: string[]) => resolveOptions({ ...parse(argv).options, selfCommand: [] }).ignorePaths;
  expect(ignorePaths(["--no-push"])).toEqual(["/var/run"]);
  expect(ignorePaths(["--no-push", "--ignore-var-run=false", "--ignore-path", "/x"])).toEqual(["/x"]);
  expect(ignorePaths(["--no-push", "--whitelist-var-run=false"])).toEqual([]);
  expect(ignorePaths(["--no-push", "--ignore-path", "/x"])).toEqual(["/x", "/var/run"]);
  expect(parse(["--no-push", "--tarPath", "out.tar"]).options.tarPath).toBe("/cwd/out.tar");
  expect(parse(["--no-push", "--customPlatform", "linux/arm64"]).options.platform).toEqual({ os: "linux", architecture: "arm64" });
});

test("booleans not given are false, whatever their kind", () => {
  const p = parse(["--no-push"]);
  expect(p.force).toBe(false);
  expect(p.log.timestamp).toBe(false);
  expect(p.options.registry).toMatchObject({ insecurePush: false, insecurePull: false, skipTlsVerify: false, skipTlsVerifyPull: false });
});

test("--cache-dir and --cache-ttl (Go durations) reach the build; absent, resolveOptions gives /cache and 336h", () => {
  const p = parse(["--no-push", "--cache-dir", "c", "--cache-ttl", "1h30m"]);
  expect(p.options.cacheDir).toBe("/cwd/c");
  expect(p.options.cacheTtl).toBe(90 * 60_000);
  expect(p.warnings.some((w) => w.includes("--cache-dir") || w.includes("--cache-ttl"))).toBe(false);
  const defaults = resolveOptions({ ...parse(["--no-push"]).options, selfCommand: [] });
  expect([defaults.cacheDir, defaults.cacheTtl]).toEqual(["/cache", 336 * 3_600_000]);
  expect(() => parse(["--no-push", "--cache-ttl", "2d"])).toThrow(/--cache-ttl: invalid duration "2d"/);
});

test("warmer: kaniko's flags and short forms, the executor's registry flags", () => {
  const w = parseWarmerArgs([
    "-i", "a:1", "--image=b:2", "-c", "cache", "-f", "--cache-ttl", "90m", "--customPlatform", "linux/arm64",
    "--insecure-registry", "r:5000", "--registry-mirror", "m.example", "--skip-tls-verify-pull", "-d", "Dockerfile", "--build-arg", "V=1",
  ], { HOME: "/home/u" }, "/cwd");
  expect(w.options).toMatchObject({
    images: ["a:1", "b:2"], cacheDir: "/cwd/cache", force: true, cacheTtl: 90 * 60_000, platform: { os: "linux", architecture: "arm64" },
    dockerfile: "/cwd/Dockerfile", buildArgs: { V: "1" }, homeDir: "/home/u",
  });
  expect(w.options.registry).toMatchObject({ insecureRegistries: ["r:5000"], registryMap: { "index.docker.io": ["m.example"] }, skipTlsVerifyPull: true });
  expect(parseWarmerArgs(["--image", "a", "--custom-platform", "linux/arm/v7"], {}, "/").options.platform).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
  expect(parseWarmerArgs(["--image", "a"], {}, "/").options).toMatchObject({ force: false, cacheDir: undefined, cacheTtl: undefined });
  expect(() => parseWarmerArgs([], {}, "/")).toThrow(FlagError);
  expect(() => parseWarmerArgs(["--image", "a", "--destination", "x"], {}, "/")).toThrow(/unknown option '--destination'/);
});

test("-d=ref and other short flags with = are read as pflag reads them", () => {
  const p = parse(["-d=r/a:1", "-c=ctx", "-f=Df", "-v=debug"]);
  expect(p.options.destinations).toEqual(["r/a:1"]);
  expect([p.options.context, p.options.dockerfile, p.log.level]).toEqual(["/cwd/ctx", "Df", "debug"]);
  // After "--" nothing is a flag; long flags keep their own = handling.
  expect(splitShortEquals(["-d=x", "--label=a=b", "--", "-d=y"])).toEqual(["-d", "x", "--label=a=b", "--", "-d=y"]);
  expect(parseWarmerArgs(["-i=a:1", "-f=false"], {}, "/").options).toMatchObject({ images: ["a:1"], force: false });
});

test("version and --version", () => {
  expect(wantsVersion(["version"])).toBe(true);
  expect(wantsVersion(["--version"])).toBe(true);
  expect(wantsVersion(["--no-push", "--context", "version"])).toBe(false);
});

test("--skip-unused-stages: not given, BuildKit's pruning; =false, every stage (kaniko); =true, pruning", () => {
  expect(parse(["--no-push"]).options.skipUnusedStages).toBeUndefined();
  expect(parse(["--no-push", "--skip-unused-stages=false"]).options.skipUnusedStages).toBe(false);
  expect(parse(["--no-push", "--skip-unused-stages"]).options.skipUnusedStages).toBe(true);
});

test("log format: colour by default only on a terminal without NO_COLOR; an explicit format always wins", () => {
  const format = (argv: string[], env: Record<string, string>, terminal: boolean) => parseExecutorArgs(["--no-push", ...argv], env, "/", terminal).log.format;
  expect(format([], {}, false)).toBe("text");
  expect(format([], {}, true)).toBe("color");
  expect(format([], { NO_COLOR: "1" }, true)).toBe("text");
  expect(format(["--log-format", "color"], { NO_COLOR: "1" }, false)).toBe("color");
  expect(format(["--log-format=json"], {}, true)).toBe("json");
  expect(format(["--log-format", "text"], {}, true)).toBe("text");
  expect(parseWarmerArgs(["--image", "a"], {}, "/", false).log.format).toBe("text");
  expect(() => format(["--log-format", "fancy"], {}, false)).toThrow(/--log-format "fancy"/);
});
