import { afterAll, afterEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { baseKey, CACHE_FORMAT_VERSION, CacheKeyError, contextKeyInputs, stepKey, stepKeyNeeds, type KeyBuildOptions, type StepKeyInput } from "./key.ts";
import { IgnoreMatcher } from "../context/mod.ts";
import { expandInstruction, parseDockerfile, type Instruction } from "../dockerfile/mod.ts";
import { execute, lookupFor, type StageState, type StepContext } from "../instructions/mod.ts";
import type { Platform } from "../image/mod.ts";

const AMD64: Platform = { os: "linux", architecture: "amd64" };
const BASE = "sha256:" + "a".repeat(64);
const GZIP: KeyBuildOptions = { compression: "gzip", reproducible: false };

interface Build {
  buildArgs?: Record<string, string>;
  base?: string;
  platform?: Platform;
  build?: KeyBuildOptions;
  /** The build context (and its .dockerignore patterns) for COPY/ADD sources and bind mounts. */
  context?: string;
  ignore?: string[];
  fromKeys?: Record<string, string>;
}

/**
 * The keys of a stage's steps, as the step loop computes them: expand each instruction against the state
 * before it, key it (parent = the step before, or the base), then run it. Only config steps run here (their
 * state is what later keys see); a step that needs a root leaves the state as it was.
 */
async function keys(text: string, b: Build = {}): Promise<string[]> {
  const df = parseDockerfile(`FROM base\n${text}\n`, { file: "Dockerfile" });
  let state: StageState = { config: { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] } }, args: new Map(), declaredArgs: [] };
  const ctx = { buildArgs: b.buildArgs ?? {}, metaArgs: new Map() } as unknown as StepContext;
  let parent = baseKey(b.base ?? BASE, b.platform ?? AMD64);
  const out: string[] = [];
  for (const raw of df.stages[0].instructions) {
    const instr = expandInstruction(raw, lookupFor(state), df.escape);
    const key = stepKey({ parent, instruction: instr, state, build: b.build ?? GZIP, ...inputsFor(instr, b) });
    out.push(key);
    parent = key;
    if (!["RUN", "COPY", "ADD", "WORKDIR"].includes(instr.kind)) state = (await execute(instr, state, ctx)).state;
  }
  return out;
}

/** What the builder hands stepKey besides the instruction: digests of what the step reads. */
function inputsFor(instr: Instruction, b: Build): Partial<StepKeyInput> {
  const context = { dir: b.context ?? emptyContext(), ignore: new IgnoreMatcher(b.ignore ?? []) };
  return { ...contextKeyInputs(instr, context), fromKeys: b.fromKeys };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function makeContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-key-"));
  dirs.push(dir);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

let empty: string | undefined;
function emptyContext(): string {
  return (empty ??= mkdtempSync(join(tmpdir(), "kiln-key-empty-")));
}
afterAll(() => {
  if (empty) rmSync(empty, { recursive: true, force: true });
});

const last = async (text: string, b: Build = {}) => (await keys(text, b)).at(-1)!;

test("keys are 64 hex digits; the same build gives the same keys", async () => {
  const a = await keys("ENV A=1\nRUN echo hi");
  expect(a.every((k) => /^[0-9a-f]{64}$/.test(k))).toBe(true);
  expect(await keys("ENV A=1\nRUN echo hi")).toEqual(a);
  expect(new Set(a).size).toBe(a.length);
});

test("the instruction text: a changed command misses, and every later step misses with it", async () => {
  const a = await keys("RUN echo a\nRUN echo same");
  const b = await keys("RUN echo b\nRUN echo same");
  expect(b[0]).not.toBe(a[0]);
  expect(b[1]).not.toBe(a[1]);
});

test("spacing: a shell-form command string counts as run, the text around it does not (BuildKit's ExecOp args)", async () => {
  const plain = await last("RUN echo hi");
  // The command string differs: BuildKit runs `/bin/sh -c "echo  hi"`, a different ExecOp, a different key.
  expect(await last("RUN  echo  hi")).not.toBe(plain);
  // Leading and trailing blanks are not part of the command; a comment inside a continuation is dropped.
  expect(await last("RUN    echo hi   ")).toBe(plain);
  expect(await last("RUN echo \\\n# a comment\nhi")).toBe(plain);
  // Exec form counts by its arguments; flags by their values.
  expect(await last('RUN [ "echo",  "hi" ]')).toBe(await last('RUN ["echo","hi"]'));
  expect(await last("COPY  --chmod=644   a.txt  /dst/", { context: makeContext({ "a.txt": "a" }) }))
    .toBe(await last("COPY --chmod=644 a.txt /dst/", { context: makeContext({ "a.txt": "a" }) }));
  // USER's history entry is the text as written, so a hit must come from the same text.
  expect(await last("USER  app")).not.toBe(await last("USER app"));
});

test("build args: a value the step can see misses; one it cannot see (not declared in the stage) hits", async () => {
  const visible = "ARG V\nRUN echo hi";
  expect(await last(visible, { buildArgs: { V: "2" } })).not.toBe(await last(visible, { buildArgs: { V: "1" } }));
  const invisible = "ARG OTHER\nRUN echo hi";
  expect(await last(invisible, { buildArgs: { V: "2" } })).toBe(await last(invisible, { buildArgs: { V: "1" } }));
  // An undeclared proxy arg reaches RUN but, as in BuildKit, not the key; a declared one is an ARG like any other.
  expect(await last("RUN echo hi", { buildArgs: { HTTP_PROXY: "http://b" } })).toBe(await last("RUN echo hi", { buildArgs: { HTTP_PROXY: "http://a" } }));
  expect(await last("ARG HTTP_PROXY\nRUN echo hi", { buildArgs: { HTTP_PROXY: "http://b" } }))
    .not.toBe(await last("ARG HTTP_PROXY\nRUN echo hi", { buildArgs: { HTTP_PROXY: "http://a" } }));
  // Declared without a value differs from declared empty: RUN gets no variable vs an empty one.
  expect(await last("ARG V\nRUN echo hi")).not.toBe(await last("ARG V\nRUN echo hi", { buildArgs: { V: "" } }));
});

test("ENV values and the runtime config the step runs with count", async () => {
  expect(await last("ENV A=2\nRUN echo hi")).not.toBe(await last("ENV A=1\nRUN echo hi"));
  // Even without the chain through the ENV step, the state's Env is an input of its own.
  const state = (env: string[]): StageState => ({ config: { architecture: "amd64", os: "linux", config: { Env: env }, rootfs: { type: "layers", diff_ids: [] } }, args: new Map() });
  const run = parseDockerfile("FROM base\nRUN echo hi\n", { file: "Dockerfile" }).stages[0].instructions[0];
  const k = (s: StageState) => stepKey({ parent: baseKey(BASE, AMD64), instruction: run, state: s, build: GZIP });
  expect(k(state(["A=1"]))).not.toBe(k(state(["A=2"])));
  expect(await last("WORKDIR /b\nRUN echo hi")).not.toBe(await last("WORKDIR /a\nRUN echo hi"));
  expect(await last('SHELL ["/bin/bash","-c"]\nRUN echo hi')).not.toBe(await last("RUN echo hi"));
});

test("the base image: its manifest digest and its platform", async () => {
  const a = await keys("RUN echo hi");
  expect(await keys("RUN echo hi", { base: "sha256:" + "b".repeat(64) })).not.toEqual(a);
  expect((await keys("RUN echo hi", { platform: { os: "linux", architecture: "arm64", variant: "v8" } }))[0]).not.toBe(a[0]);
  expect(baseKey("scratch", AMD64)).not.toBe(baseKey(BASE, AMD64));
});

test("COPY: a copied file's content and mode miss; --chown, --chmod, --link and --parents miss", async () => {
  const files = { "app/main.js": "main", "app/README.md": "readme", "unrelated.txt": "u", ".dockerignore": "" };
  const dir = makeContext(files);
  const copy = "COPY app /app/";
  const before = await last(copy, { context: dir });

  writeFileSync(join(dir, "app/main.js"), "main v2");
  const content = await last(copy, { context: dir });
  expect(content).not.toBe(before);

  chmodSync(join(dir, "app/main.js"), 0o700);
  expect(await last(copy, { context: dir })).not.toBe(content);

  const ctx = { context: makeContext(files) };
  const plain = await last(copy, ctx);
  for (const flagged of ["COPY --chown=1 app /app/", "COPY --chmod=600 app /app/", "COPY --link app /app/", "COPY --parents app /app/", "COPY --exclude=*.md app /app/"]) {
    expect(await last(flagged, ctx)).not.toBe(plain);
  }
  expect(await last("COPY --chown=2 app /app/", ctx)).not.toBe(await last("COPY --chown=1 app /app/", ctx));
});

test("COPY: an unrelated file or only an mtime hits; a .dockerignore change misses only if it changes what COPY sees", async () => {
  const dir = makeContext({ "app/main.js": "main", "app/README.md": "readme", "unrelated.txt": "u" });
  const copy = "COPY app /app/";
  const before = await last(copy, { context: dir });

  writeFileSync(join(dir, "unrelated.txt"), "changed");
  utimesSync(join(dir, "app/main.js"), new Date(2e9), new Date(2e9));
  expect(await last(copy, { context: dir })).toBe(before);

  expect(await last(copy, { context: dir, ignore: ["unrelated.txt"] })).toBe(before);
  expect(await last(copy, { context: dir, ignore: ["app/*.md"] })).not.toBe(before);
});

test("COPY --from: the source stage's key is an input; a key is never made without it", async () => {
  const copy = "COPY --from=builder /out /out";
  expect(await last(copy, { fromKeys: { builder: "1".repeat(64) } })).not.toBe(await last(copy, { fromKeys: { builder: "2".repeat(64) } }));
  await expect(keys(copy)).rejects.toBeInstanceOf(CacheKeyError);
});

test("ADD of a URL: --checksum pins it; without, it has no key (only fetching it tells)", async () => {
  const url = "https://example.com/f.tgz";
  const sum = "sha256:" + "c".repeat(64);
  expect(await last(`ADD --checksum=${sum} ${url} /f`)).not.toBe(await last(`ADD --checksum=sha256:${"d".repeat(64)} ${url} /f`));
  await expect(keys(`ADD ${url} /f`)).rejects.toBeInstanceOf(CacheKeyError);
});

test("RUN --mount: a context bind's content and a from= stage's key count; a secret counts by its id, never its value", async () => {
  const dir = makeContext({ "src/a.c": "int a;", "other": "o" });
  const bind = "RUN --mount=type=bind,source=src,target=/src make";
  const before = await last(bind, { context: dir });
  writeFileSync(join(dir, "other"), "changed");
  expect(await last(bind, { context: dir })).toBe(before);
  writeFileSync(join(dir, "src/a.c"), "int b;");
  expect(await last(bind, { context: dir })).not.toBe(before);

  const fromMount = "RUN --mount=type=bind,from=deps,target=/deps make";
  expect(await last(fromMount, { fromKeys: { deps: "1".repeat(64) } })).not.toBe(await last(fromMount, { fromKeys: { deps: "2".repeat(64) } }));

  // Secret values are not an input at all (they live in the build's MountResources): the key is the same
  // whatever the secret holds. Its id (and where it lands) are inputs.
  const secret = "RUN --mount=type=secret,id=token cat /run/secrets/token";
  expect(await last(secret)).toBe(await last(secret));
  expect(await last("RUN --mount=type=secret,id=other cat /run/secrets/token")).not.toBe(await last(secret));
  expect(await last("RUN --mount=type=ssh,id=a ssh-add -l")).not.toBe(await last("RUN --mount=type=ssh,id=b ssh-add -l"));
});

test("stepKeyNeeds lists the content inputs a step's key needs", () => {
  const needs = (line: string) => stepKeyNeeds(parseDockerfile(`FROM base\n${line}\n`, { file: "Dockerfile" }).stages[0].instructions[0]);
  expect(needs("COPY --exclude=*.md a b/ /dst/")).toEqual({ context: { sources: ["a", "b/"], exclude: ["*.md"] }, from: [], remote: [], binds: [] });
  expect(needs("COPY --from=builder /out /out")).toEqual({ from: ["builder"], remote: [], binds: [] });
  expect(needs("COPY <<EOF /f\nhi\nEOF")).toEqual({ from: [], remote: [], binds: [] });
  const url = "https://example.com/f.tgz", git = "https://example.com/r.git#main";
  expect(needs(`ADD ${url} ${git} local.tar /dst/`)).toEqual({ context: { sources: ["local.tar"], exclude: [] }, from: [], remote: [url, git], binds: [] });
  expect(needs(`ADD --checksum=sha256:${"c".repeat(64)} ${url} /f`)).toEqual({ from: [], remote: [], binds: [] });
  expect(needs("RUN --mount=type=bind,target=/src --mount=type=cache,target=/c --mount=type=bind,from=deps,source=/x,target=/d make"))
    .toEqual({ from: ["deps"], remote: [], binds: ["/", undefined, undefined] });
  expect(needs("ENV A=1")).toEqual({ from: [], remote: [], binds: [] });
});

test("compression codec and level, --reproducible and SOURCE_DATE_EPOCH", async () => {
  const text = "RUN echo hi";
  const k = (build: KeyBuildOptions) => last(text, { build });
  const gzip = await k(GZIP);
  expect(await k({ ...GZIP, compression: "zstd" })).not.toBe(gzip);
  expect(await k({ ...GZIP, compressionLevel: 9 })).not.toBe(gzip);
  expect(await k({ ...GZIP, reproducible: true })).not.toBe(gzip);
  expect(await k({ ...GZIP, sourceDateEpoch: 1700000000 })).not.toBe(gzip);
});

test("deterministic across processes: the ARG map's insertion order and the process do not matter", async () => {
  const instr = parseDockerfile("FROM base\nRUN echo hi\n", { file: "Dockerfile" }).stages[0].instructions[0];
  const input = (args: [string, string | undefined][]): StepKeyInput => ({
    parent: baseKey(BASE, AMD64), instruction: instr, build: GZIP,
    state: { config: { config: { Env: ["PATH=/bin", "A=1"], WorkingDir: "/w" } }, args: new Map(args), declaredArgs: ["B", "A"] },
  });
  const here = stepKey(input([["A", "1"], ["B", undefined]]));
  expect(stepKey(input([["B", undefined], ["A", "1"]]))).toBe(here);
  const script = `
    import { stepKey, baseKey } from ${JSON.stringify(join(import.meta.dir, "key.ts"))};
    const instr = ${JSON.stringify(instr)};
    console.log(stepKey({ parent: baseKey(${JSON.stringify(BASE)}, { architecture: "amd64", os: "linux" }), instruction: instr,
      build: { reproducible: false, compression: "gzip" },
      state: { args: new Map([["B", undefined], ["A", "1"]]), declaredArgs: ["B", "A"], config: { config: { WorkingDir: "/w", Env: ["PATH=/bin", "A=1"] } } } }));`;
  const p = Bun.spawnSync([process.execPath, "-e", script]);
  expect(p.stderr.toString()).toBe("");
  expect(p.stdout.toString().trim()).toBe(here);
});

test("a pinned key: if this changes, what keys cover changed and CACHE_FORMAT_VERSION must be bumped", () => {
  const instr = parseDockerfile("FROM base\nRUN echo hi\n", { file: "Dockerfile" }).stages[0].instructions[0];
  const key = stepKey({ parent: baseKey(BASE, AMD64), instruction: instr, build: GZIP, state: { config: { config: {} }, args: new Map() } });
  expect(CACHE_FORMAT_VERSION).toBe(1);
  expect(key).toBe("81ef20ac2ddf828c258fbda0a4a9fa05f165aaf16aa6cced06ecf6646b8ae153");
});
