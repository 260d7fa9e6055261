// The conformance harness: every directory under tests/conformance/ is a case (a Dockerfile and its context).
// A case is built by the real Docker engine (BuildKit) and by kiln; the two images are read back with skopeo +
// umoci (tests/support/image-assert.ts) and compared after normalising what may legitimately differ (timestamps,
// layer boundaries, digests); kiln's image must also pass the validator (tests/support/validate-image.ts). A case with expected.json states the expected image instead, for syntax Debian's
// Docker 20.10 frontend lacks; it is built by kiln only.
import { createReadStream } from "node:fs";
import tar from "tar-stream";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanupInspected, inspectDockerArchive, type FileEntry, type InspectedImage } from "../support/image-assert.ts";
import { runKiln } from "../support/kiln.ts";
import { validateOciLayout } from "../support/validate-image.ts";
import type { TestDocker } from "../support/docker.ts";

export const CASES_DIR = resolve(import.meta.dir);

/** case.json: how to build a case (both builders get the same inputs). */
export interface CaseOptions {
  buildArgs?: Record<string, string>;
  target?: string;
  /** kaniko's --label (docker build --label). */
  labels?: Record<string, string>;
  /** Dockerfile path relative to the case dir (default "Dockerfile"). */
  dockerfile?: string;
  /** Both builders must refuse the Dockerfile (non-zero exit); nothing is compared. */
  fails?: boolean;
  /** Paths left out of the filesystem comparison, with the reason in tests/conformance/README.md. */
  ignorePaths?: string[];
  /** Compare file mtimes too (for cases about timestamps). */
  compareMtime?: boolean;
  /**
   * Also run the case for each of these platforms (`docker build --platform P`, kiln `--platform P`), as the case
   * named `<case>.<os>-<arch>`, FROM a two-platform busybox (@BUSYBOX@ names it in those runs).
   */
  platforms?: string[];
  /** Set on the extra runs `platforms` makes. */
  platform?: string;
}

/** expected.json: the image kiln must produce, for syntax Docker 20.10 cannot build. */
export interface Expected {
  /** Normalised config fields that must be equal (see normaliseConfig); fields not named are not checked. */
  config?: Record<string, unknown>;
  /** Path -> expected attributes (only the ones given are checked), or null for "must not exist". */
  files?: Record<string, Partial<Pick<FileEntry, "type" | "mode" | "uid" | "gid" | "size" | "content" | "linkTarget">> | null>;
  /** created_by of the history entries this Dockerfile adds (the base's own entries left out). */
  history?: { created_by: string; empty_layer: boolean }[];
}

export interface Case {
  name: string;
  dir: string;
  options: CaseOptions;
  expected?: Expected;
}

export interface CaseResult {
  name: string;
  differences: string[];
}

export function loadCases(): Case[] {
  return readdirSync(CASES_DIR)
    .filter((n) => statSync(join(CASES_DIR, n)).isDirectory() && existsSync(join(CASES_DIR, n, "Dockerfile")))
    .sort()
    .map((name) => {
      const dir = join(CASES_DIR, name);
      const read = (f: string) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) : undefined);
      return { name, dir, options: read("case.json") ?? {}, expected: read("expected.json") };
    })
    .flatMap((c: Case) => [c, ...(c.options.platforms ?? []).map((platform) => ({
      ...c, name: `${c.name}.${platform.replaceAll("/", "-")}`, options: { ...c.options, platform, platforms: undefined },
    }))]);
}

export interface Env {
  docker?: TestDocker;
  /** The busybox reference in the test registry: replaces @BUSYBOX@ in every case file. */
  busybox: string;
  /** A busybox index for linux/amd64 and linux/arm64: @BUSYBOX@ in the cases run for another platform. */
  busyboxMulti?: string;
  /** "127.0.0.1:PORT" of the test registry: replaces @REGISTRY@. */
  registry: string;
}

const HARNESS_FILES = new Set(["case.json", "expected.json"]);

/** Copies a case into a fresh context dir with the placeholders filled in (the case dir itself stays pristine). */
function prepareContext(c: Case, env: Env): string {
  const ctx = mkdtempSync(join(tmpdir(), `conf-${c.name}-`));
  // verbatimSymlinks: a context's relative symlinks must stay relative (cpSync would make them absolute host paths).
  cpSync(c.dir, ctx, { recursive: true, verbatimSymlinks: true, filter: (src) => !HARNESS_FILES.has(src.slice(c.dir.length + 1)) });
  const fill = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) fill(p);
      else if (e.isFile() && /Dockerfile|\.dockerignore$/.test(e.name)) {
        const text = readFileSync(p, "utf8");
        const busybox = c.options.platform ? env.busyboxMulti! : env.busybox;
        if (text.includes("@")) writeFileSync(p, text.replaceAll("@BUSYBOX@", busybox).replaceAll("@REGISTRY@", env.registry));
      }
    }
  };
  fill(ctx);
  return ctx;
}

/**
 * Base images some cases need beyond busybox: each tests/conformance/_images/<name>/ is built by Docker and pushed
 * as @REGISTRY@/conformance/<name>:latest before the cases run.
 */
export async function pushSupportImages(env: Env): Promise<void> {
  const root = join(CASES_DIR, "_images");
  if (!existsSync(root)) return;
  for (const name of readdirSync(root).sort()) {
    const c: Case = { name, dir: join(root, name), options: {} };
    const ctx = prepareContext(c, env);
    try {
      const ref = `${env.registry}/conformance/${name}:latest`;
      const b = await env.docker!.run(["build", "--network", "host", "-q", "-t", ref, ctx]);
      if (b.code !== 0) throw new Error(`support image ${name}: docker build failed: ${lastLines(b.stderr)}`);
      const p = await env.docker!.run(["push", ref]);
      if (p.code !== 0) throw new Error(`support image ${name}: docker push failed: ${lastLines(p.stderr)}`);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }
}

interface Built { image?: InspectedImage; error?: string; noop?: Set<number>; invalid?: string[] }

async function buildWithDocker(c: Case, ctx: string, out: string, env: Env): Promise<Built> {
  const docker = env.docker!;
  const tag = `kiln-conformance/${c.name}:latest`;
  const args = ["build", "--network", "host", "-q", "-t", tag, "-f", join(ctx, c.options.dockerfile ?? "Dockerfile")];
  for (const [k, v] of Object.entries(c.options.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(c.options.labels ?? {})) args.push("--label", `${k}=${v}`);
  if (c.options.target) args.push("--target", c.options.target);
  if (c.options.platform) args.push("--platform", c.options.platform);
  const b = await docker.run([...args, ctx]);
  if (b.code !== 0) return { error: `docker build failed (${b.code}): ${lastLines(b.stderr)}` };
  const tarPath = join(out, "docker.tar");
  const s = await docker.run(["save", "-o", tarPath, tag]);
  if (s.code !== 0) return { error: `docker save failed: ${lastLines(s.stderr)}` };
  await docker.run(["rmi", "-f", tag]);
  const image = await inspectDockerArchive(tarPath);
  return { image, noop: await noopLayers(tarPath, image.archiveManifest.Layers ?? []) };
}

async function buildWithKiln(c: Case, ctx: string, out: string): Promise<Built> {
  const tar = join(out, "kiln.tar");
  const layout = join(out, "kiln-layout");
  const args = [
    "--context", `dir://${ctx}`, "--dockerfile", join(ctx, c.options.dockerfile ?? "Dockerfile"),
    "--no-push", "--tar-path", tar, "--oci-layout-path", layout, "--insecure-pull", "--log-format", "text",
  ];
  for (const [k, v] of Object.entries(c.options.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(c.options.labels ?? {})) args.push("--label", `${k}=${v}`);
  if (c.options.target) args.push("--target", c.options.target);
  if (c.options.platform) args.push("--platform", c.options.platform);
  const r = await runKiln(args, { env: { TMPDIR: out } });
  if (r.code !== 0) return { error: `kiln failed (${r.code}): ${lastLines(r.stderr)}` };
  // The OCI layout is what the validator reads: the docker archive has no media types or compressed blobs to check.
  return { image: await inspectDockerArchive(tar), invalid: await validateOciLayout(layout) };
}

function lastLines(s: string, n = 6): string {
  return s.trim().split("\n").slice(-n).join("\n");
}

/** The config fields Docker's semantics define, with "absent", null and empty treated alike. */
export function normaliseConfig(config: any): Record<string, unknown> {
  const rc = config.config ?? {};
  const empty = (v: unknown) => v === undefined || v === null || (typeof v === "object" && Object.keys(v as object).length === 0);
  const pick: Record<string, unknown> = {};
  for (const k of ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal", "Healthcheck", "OnBuild", "Shell"]) {
    pick[k] = empty(rc[k]) || rc[k] === "" ? null : rc[k];
  }
  pick.author = config.author ?? null;
  pick.os = config.os;
  pick.architecture = config.architecture;
  pick.variant = config.variant ?? null;
  return pick;
}

/**
 * History as (created_by, empty_layer). Layers in `noop` (indexes into the image's layers) count as no layer: kiln,
 * like kaniko, adds no layer for a step that changed nothing, where BuildKit commits one (a deliberate difference,
 * README.md).
 */
export function normaliseHistory(config: any, noop: ReadonlySet<number> = new Set()): { created_by: string; empty_layer: boolean }[] {
  let layer = 0;
  return (config.history ?? []).map((h: any) => {
    const empty = h.empty_layer === true || noop.has(layer);
    if (h.empty_layer !== true) layer++;
    return { created_by: h.created_by ?? "", empty_layer: empty };
  });
}

/**
 * Indexes of the layers of a `docker save` archive that change nothing: every entry equals (mtime aside) what the
 * layers below already had, and no whiteouts. BuildKit writes such layers for `RUN true` (only /etc's mtime moved),
 * a COPY of identical bytes, or a WORKDIR that existed.
 */
export async function noopLayers(tarPath: string, layerNames: string[]): Promise<Set<number>> {
  const wanted = new Map(layerNames.map((n, i) => [n.replace(/^\.\//, ""), i]));
  const entries = new Map<number, { path: string; key: string; whiteout: boolean }[]>();
  const outer = tar.extract();
  const done = (async () => {
    for await (const e of outer) {
      const idx = wanted.get(e.header.name.replace(/^\.\//, ""));
      if (idx === undefined) { e.resume(); continue; }
      const list: { path: string; key: string; whiteout: boolean }[] = [];
      const inner = tar.extract();
      const innerDone = (async () => {
        for await (const f of inner) {
          const hash = new Bun.CryptoHasher("sha256");
          for await (const chunk of f) hash.update(chunk as Uint8Array);
          const h = f.header;
          const path = "/" + h.name.replace(/^\.?\/+/, "").replace(/\/$/, "");
          const key = JSON.stringify([h.type, (h.mode ?? 0) & 0o7777, h.uid, h.gid, h.size, h.linkname ?? "", h.type === "file" ? hash.digest("hex") : ""]);
          list.push({ path, key, whiteout: path.split("/").pop()!.startsWith(".wh.") });
        }
      })();
      for await (const chunk of e) inner.write(chunk as Uint8Array);
      inner.end(() => {}); // the typings want a callback
      await innerDone;
      entries.set(idx, list);
    }
  })();
  createReadStream(tarPath).pipe(outer);
  await done;
  const state = new Map<string, string>();
  const noop = new Set<number>();
  for (let i = 0; i < layerNames.length; i++) {
    const list = entries.get(i) ?? [];
    if (list.every((f) => !f.whiteout && state.get(f.path) === f.key)) noop.add(i);
    for (const f of list) if (!f.whiteout) state.set(f.path, f.key);
  }
  return noop;
}

function fileView(f: FileEntry, mtime: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { type: f.type, mode: f.mode.toString(8), uid: f.uid, gid: f.gid };
  if (f.size !== undefined) v.size = f.size;
  if (f.sha256 !== undefined) v.sha256 = f.sha256.slice(0, 12);
  if (f.linkTarget !== undefined) v.linkTarget = f.linkTarget;
  if (f.devMajor !== undefined) v.dev = `${f.devMajor}:${f.devMinor}`;
  // Only security.capability: BuildKit's layer writer (containerd's) keeps no other xattr; kiln keeps them all (README).
  const cap = f.xattrs?.["security.capability"];
  if (cap !== undefined) v.xattrs = { "security.capability": cap };
  if (mtime) v.mtime = f.mtime;
  return v;
}

const show = (v: unknown) => JSON.stringify(v);

function ignored(path: string, ignore: string[]): boolean {
  return ignore.some((p) => path === p || path.startsWith(`${p}/`));
}

/** Differences between Docker's image and kiln's, one readable line each. */
export function compareImages(docker: InspectedImage, kiln: InspectedImage, options: CaseOptions, dockerNoop: ReadonlySet<number> = new Set()): string[] {
  const diffs: string[] = [];
  const dc = normaliseConfig(docker.config);
  const kc = normaliseConfig(kiln.config);
  for (const k of Object.keys(dc)) {
    if (show(dc[k]) !== show(kc[k])) diffs.push(`config ${k}: docker ${show(dc[k])} kiln ${show(kc[k])}`);
  }
  const dh = normaliseHistory(docker.config, dockerNoop);
  const kh = normaliseHistory(kiln.config);
  for (let i = 0; i < Math.max(dh.length, kh.length); i++) {
    if (show(dh[i]) !== show(kh[i])) diffs.push(`history[${i}]: docker ${show(dh[i])} kiln ${show(kh[i])}`);
  }
  const ignore = options.ignorePaths ?? [];
  const paths = new Set([...docker.files.keys(), ...kiln.files.keys()]);
  for (const p of [...paths].sort()) {
    if (ignored(p, ignore)) continue;
    const d = docker.files.get(p);
    const k = kiln.files.get(p);
    const dv = d && fileView(d, options.compareMtime === true);
    const kv = k && fileView(k, options.compareMtime === true);
    if (show(dv) !== show(kv)) diffs.push(`file ${p}: docker ${show(dv) ?? "absent"} kiln ${show(kv) ?? "absent"}`);
  }
  return diffs;
}

/** Differences between kiln's image and a case's expected.json. */
export function checkExpected(kiln: InspectedImage, expected: Expected, baseHistoryLength: number): string[] {
  const diffs: string[] = [];
  const kc = normaliseConfig(kiln.config);
  for (const [k, v] of Object.entries(expected.config ?? {})) {
    if (show(kc[k]) !== show(v)) diffs.push(`config ${k}: expected ${show(v)} kiln ${show(kc[k])}`);
  }
  if (expected.history) {
    const kh = normaliseHistory(kiln.config).slice(baseHistoryLength);
    if (show(kh) !== show(expected.history)) diffs.push(`history: expected ${show(expected.history)} kiln ${show(kh)}`);
  }
  for (const [p, want] of Object.entries(expected.files ?? {})) {
    const f = kiln.files.get(p);
    if (want === null) {
      if (f) diffs.push(`file ${p}: expected absent, kiln has ${show(fileView(f, false))}`);
      continue;
    }
    if (!f) { diffs.push(`file ${p}: expected ${show(want)}, kiln has none`); continue; }
    for (const [k, v] of Object.entries(want)) {
      const have = k === "mode" ? f.mode.toString(8) : (f as any)[k];
      if (show(have) !== show(v)) diffs.push(`file ${p} ${k}: expected ${show(v)} kiln ${show(have)}`);
    }
  }
  return diffs;
}

/** Builds one case with both builders (or kiln alone for expected.json cases) and compares. */
export async function runCase(c: Case, env: Env & { baseHistoryLength: number }): Promise<CaseResult> {
  const ctx = prepareContext(c, env);
  const out = mkdtempSync(join(tmpdir(), `conf-out-${c.name}-`));
  const cleanups: InspectedImage[] = [];
  try {
    if (c.expected) {
      const k = await buildWithKiln(c, ctx, out);
      if (!k.image) return { name: c.name, differences: [k.error!] };
      cleanups.push(k.image);
      return { name: c.name, differences: [...k.invalid!, ...checkExpected(k.image, c.expected, env.baseHistoryLength)] };
    }
    if (!env.docker) throw new Error(`case ${c.name} needs the Docker engine`);
    // Docker and kiln build at the same time: Docker mostly waits on its daemon, kiln on its sandbox.
    const [d, k] = await Promise.all([buildWithDocker(c, ctx, out, env), buildWithKiln(c, ctx, out)]);
    for (const b of [d, k]) if (b.image) cleanups.push(b.image);
    if (c.options.fails) {
      const diffs: string[] = [];
      if (d.image) diffs.push("docker built the image, but case.json says the build fails");
      if (k.image) diffs.push("kiln built the image, but Docker refuses this Dockerfile");
      return { name: c.name, differences: diffs };
    }
    const errors = [d.error, k.error].filter((e): e is string => !!e);
    if (errors.length) return { name: c.name, differences: errors };
    return { name: c.name, differences: [...k.invalid!, ...compareImages(d.image!, k.image!, c.options, d.noop)] };
  } finally {
    for (const i of cleanups) await cleanupInspected(i);
    rmSync(ctx, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R>[] {
  let active = 0;
  const queue: (() => void)[] = [];
  return items.map((item) => new Promise<R>((resolveOne, reject) => {
    const start = () => {
      active++;
      fn(item).then(resolveOne, reject).finally(() => { active--; queue.shift()?.(); });
    };
    if (active < limit) start(); else queue.push(start);
  }));
}
