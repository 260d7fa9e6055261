import { afterEach, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { contextSourcesDigest } from "./digest.ts";
import { IgnoreMatcher } from "./dockerignore.ts";
import { parseDockerfile, type CopyInstruction } from "../dockerfile/mod.ts";
import { executeCopy } from "../instructions/copy.ts";
import type { StepContext } from "../instructions/mod.ts";
import { silentLogger } from "../log/mod.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "kiln-digest-"));
  dirs.push(d);
  return d;
}

/** A context directory with `files` (path -> content); returns its path. */
function context(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

const digest = (dir: string, sources: string[], ignore: string[] = [], exclude: string[] = []) =>
  contextSourcesDigest({ dir, ignore: new IgnoreMatcher(ignore) }, sources, exclude);

const FILES = { "app/main.js": "main", "app/lib/util.js": "util", "app/README.md": "readme", "other.txt": "other" };

test("a copied file's content or mode changes the digest; its mtime and its owner in the context do not", () => {
  const dir = context(FILES);
  const before = digest(dir, ["app"]);
  expect(before).toMatch(/^sha256:[0-9a-f]{64}$/);

  utimesSync(join(dir, "app/main.js"), new Date(1e9), new Date(1e9));
  chownSync(join(dir, "app/main.js"), 1234, 1234); // COPY sets 0:0 (or --chown) whatever the context says
  expect(digest(dir, ["app"])).toBe(before);

  chmodSync(join(dir, "app/main.js"), 0o755);
  const chmodded = digest(dir, ["app"]);
  expect(chmodded).not.toBe(before);

  writeFileSync(join(dir, "app/main.js"), "main2");
  expect(digest(dir, ["app"])).not.toBe(chmodded);
});

test("a file outside the sources, renaming a copied file, a directory's mode and a symlink's target", () => {
  const dir = context(FILES);
  const before = digest(dir, ["app"]);
  writeFileSync(join(dir, "other.txt"), "changed");
  expect(digest(dir, ["app"])).toBe(before);

  chmodSync(join(dir, "app/lib"), 0o700);
  const dirMode = digest(dir, ["app"]);
  expect(dirMode).not.toBe(before);

  symlinkSync("main.js", join(dir, "app/link"));
  const linked = digest(dir, ["app"]);
  expect(linked).not.toBe(dirMode);
  unlinkSync(join(dir, "app/link"));
  symlinkSync("lib/util.js", join(dir, "app/link"));
  expect(digest(dir, ["app"])).not.toBe(linked);

  const dir2 = context(FILES);
  rmSync(join(dir2, "app/main.js"));
  writeFileSync(join(dir2, "app/main2.js"), "main");
  expect(digest(dir2, ["app"])).not.toBe(digest(context(FILES), ["app"]));
});

test("a symlink named as a source is followed (a ConfigMap context): its target's content counts, as COPY copies it", async () => {
  // A Kubernetes ConfigMap volume: every key a link through ..data to the current timestamped directory.
  const dir = context({ "..2024_01_01/app.conf": "v1", "..2024_01_01/other.conf": "o" });
  symlinkSync("..2024_01_01", join(dir, "..data"));
  symlinkSync("..data/app.conf", join(dir, "app.conf"));
  symlinkSync("..data/other.conf", join(dir, "other.conf"));
  const before = digest(dir, ["app.conf"]);
  const all = digest(dir, ["*.conf"]);
  writeFileSync(join(dir, "..2024_01_01/app.conf"), "v2");
  expect(digest(dir, ["app.conf"])).not.toBe(before);
  expect(digest(dir, ["*.conf"])).not.toBe(all);
  // COPY writes the file, under the link's name.
  const written = await copied(dir, [], "COPY app.conf /etc/");
  expect([...written]).toContain("/etc/app.conf");
});

test(".dockerignore counts only through what COPY sees", () => {
  const dir = context(FILES);
  const plain = digest(dir, ["app"]);
  // Ignores something COPY app would copy: a different selection.
  expect(digest(dir, ["app"], ["app/README.md"])).not.toBe(plain);
  // Ignores only files COPY app never sees: the same selection.
  expect(digest(dir, ["app"], ["other.txt", "*.log"])).toBe(plain);
  // An ignored file's content is not read into the digest.
  const ignored = digest(dir, ["app"], ["**/*.md"]);
  writeFileSync(join(dir, "app/README.md"), "new readme");
  expect(digest(dir, ["app"], ["**/*.md"])).toBe(ignored);
  // A `!` exception brings a file back inside an ignored directory.
  expect(digest(dir, ["app"], ["app/lib", "!app/lib/util.js"])).toBe(digest(dir, ["app"]));
});

test("--exclude drops files from the digest as COPY drops them", () => {
  const dir = context(FILES);
  const excluded = digest(dir, ["app"], [], ["*.md"]);
  expect(excluded).not.toBe(digest(dir, ["app"]));
  writeFileSync(join(dir, "app/README.md"), "new readme");
  expect(digest(dir, ["app"], [], ["*.md"])).toBe(excluded);
  expect(digest(dir, ["app/*"], [], ["*.md"])).toBe(digest(dir, ["app/*"], [], ["README.md"]));
});

test("the sources as written count, and a missing source is recorded rather than thrown", () => {
  const dir = context(FILES);
  expect(digest(dir, ["app/main.js"])).not.toBe(digest(dir, ["app/main.js", "other.txt"]));
  expect(digest(dir, ["missing.txt"])).toMatch(/^sha256:/);
  expect(digest(dir, ["missing.txt"])).not.toBe(digest(dir, []));
  expect(digest(dir, ["*.none"])).not.toBe(digest(dir, ["*.nothing"]));
});

test("a large file is hashed whole (streamed in chunks): a change in its last byte counts", () => {
  const dir = context({});
  const big = Buffer.alloc(3 * (1 << 20) + 17, 7);
  writeFileSync(join(dir, "big.bin"), big);
  const before = digest(dir, ["big.bin"]);
  big[big.length - 1] = 8;
  writeFileSync(join(dir, "big.bin"), big);
  expect(digest(dir, ["big.bin"])).not.toBe(before);
});

/** Runs `COPY <args>` into an empty root; returns the in-root paths it wrote. */
async function copied(dir: string, ignore: string[], line: string): Promise<Set<string>> {
  const root = tempDir();
  const df = parseDockerfile(`FROM scratch\n${line}\n`, { file: "Dockerfile" });
  const instr = df.stages[0].instructions[0] as CopyInstruction;
  const ctx = { rootDir: root, buildContext: { dir, ignore: new IgnoreMatcher(ignore), cleanup: async () => {} }, tmpDir: tempDir(), logger: silentLogger };
  const r = await executeCopy(instr, { config: { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] } }, args: new Map() }, ctx as unknown as StepContext);
  return new Set(r.changes.kind === "paths" ? r.changes.paths : []);
}

// The digest and COPY share resolution and filtering: for each context file, changing it changes the digest
// exactly when COPY copies it.
test.each([
  [[], "COPY app /dst/"],
  [["app/lib"], "COPY app /dst/"],
  [["app/lib", "!app/lib/util.js"], "COPY app /dst/"],
  [["**/*.md"], "COPY . /dst/"],
  [[], "COPY --exclude=*.md --exclude=lib app /dst/"],
  [["app/lib/util.js"], "COPY app/*.js other.tx[t] app/lib /dst/"],
  [[], "COPY --parents app/./lib/util.js /dst/"],
])("the digest covers exactly the files COPY copies: ignore %j, %s", async (ignore, line) => {
  const dir = context(FILES);
  const written = await copied(dir, ignore, line);
  const instr = parseDockerfile(`FROM scratch\n${line}\n`, { file: "Dockerfile" }).stages[0].instructions[0] as CopyInstruction;
  for (const file of Object.keys(FILES)) {
    const before = digest(dir, instr.sources, ignore, instr.exclude);
    writeFileSync(join(dir, file), `changed ${file}`);
    const seen = digest(dir, instr.sources, ignore, instr.exclude) !== before;
    const name = file.split("/").pop()!;
    const copiedIt = [...written].some((p) => p.endsWith(`/${name}`));
    expect({ file, seen }).toEqual({ file, seen: copiedIt });
  }
});
