// RUN --mount with BuildKit's semantics, turned into host-side bind and tmpfs mounts for the sandbox:
// cache (persisted per id under the build's cache dir, never in the image), bind (from the context, a stage
// or an image; read-only unless rw, and rw writes are discarded), tmpfs, and secret (from --secret; never in
// the image, the layer, history or logs). Mount points the image lacks are removed again after the command.
// In place nothing can be mounted: the same contents are placed at the targets and taken away after (placements.ts).
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, posix } from "node:path";
import type { RunMount } from "../dockerfile/mod.ts";
import type { IgnoreMatcher } from "../context/mod.ts";
import type { SandboxMount } from "../sandbox/mod.ts";
import type { StepContext } from "./context.ts";
import { InstructionError } from "./metadata.ts";
import { makeStub, MountPointError, removeStub, type Stub } from "./stubs.ts";
import { Placements, type Content } from "./placements.ts";
import { FileLock, resolveHostPath } from "../rootfs/mod.ts";

/** A --secret value: a file read when a RUN mounts it, or a value the CLI took from the environment. */
export type SecretSource = { file: string } | { value: string };

export interface MountResourcesOptions {
  /** Where cache mounts live between RUNs (and between builds, in the kaniko dir the user gave). */
  cacheDir: string;
  /** Scratch space for secret files and rw copies; removed with the build. */
  tmpDir: string;
  secrets: Readonly<Record<string, SecretSource>>;
}

/**
 * Build-wide state behind RUN mounts: the cache directories and who is using them. Stages of one build may run in
 * parallel, and builds sharing a kaniko dir share its caches, so every claim on a cache is a flock(2) (it works
 * between processes and within one, and dies with its holder): `<key>.locked` is held by the one sharing=locked
 * user at a time, `<key>.users` shared by every user, which is how sharing=private sees that a cache is busy.
 */
export class MountResources {
  readonly #opts: MountResourcesOptions;

  constructor(opts: MountResourcesOptions) {
    this.#opts = opts;
  }

  secret(id: string): SecretSource | undefined {
    return Object.hasOwn(this.#opts.secrets, id) ? this.#opts.secrets[id] : undefined;
  }

  scratch(prefix: string): string {
    mkdirSync(this.#opts.tmpDir, { recursive: true });
    const d = mkdtempSync(join(this.#opts.tmpDir, prefix));
    chmodSync(d, 0o700);
    return d;
  }

  /** The directory of cache `id`, created (and seeded from `seed`) on first use; release() when the RUN is done. */
  async cache(id: string, sharing: string, init: { mode: number; uid: number; gid: number; seed?: string }): Promise<{ dir: string; release: () => void }> {
    const cacheDir = this.#opts.cacheDir;
    const key = createHash("sha256").update(id).digest("hex").slice(0, 32);
    const dir = join(cacheDir, key);
    const create = (d: string) => {
      const tmp = `${d}.new-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        if (init.seed) cpSync(init.seed, tmp, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
        else mkdirSync(tmp);
        chmodSync(tmp, init.mode);
        chownSync(tmp, init.uid, init.gid);
        renameSync(tmp, d); // a half-seeded cache is never seen under its real name
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    };
    // One creator at a time across builds: a second one would rename its copy over the first's (empty) cache.
    const ensure = async () => {
      if (existsSync(dir)) return;
      const creating = await FileLock.acquire(join(cacheDir, ".create.lock"));
      try {
        if (!existsSync(dir)) create(dir);
      } finally {
        creating.release();
      }
    };
    mkdirSync(cacheDir, { recursive: true });
    const held: FileLock[] = [];
    const release = () => { for (const l of held.splice(0)) l.release(); };
    try {
      if (sharing === "private") {
        const alone = FileLock.try(join(cacheDir, `${key}.users`));
        if (!alone) {
          // Another RUN, of this build or another, holds it: BuildKit gives this one a fresh instance.
          const d = join(this.scratch("cache-"), "c");
          create(d);
          return { dir: d, release: () => rmSync(join(d, ".."), { recursive: true, force: true }) };
        }
        held.push(alone);
      } else {
        if (sharing === "locked") held.push(await FileLock.acquire(join(cacheDir, `${key}.locked`)));
        // Marks the cache as in use; a sharing=private holder does not make shared users wait.
        const user = FileLock.try(join(cacheDir, `${key}.users`), { shared: true });
        if (user) held.push(user);
      }
      await ensure();
    } catch (e) {
      release();
      throw e;
    }
    return { dir, release };
  }
}

export interface PreparedMounts {
  /** For the isolated mode's runtime; empty in place, where the contents were placed in the root itself. */
  mounts: SandboxMount[];
  /** `env=` secrets, as NAME=VALUE for the command's environment only. */
  env: string[];
  /**
   * After the command: removes mount points, scratch copies, locks (isolated: unmounted already, the namespace died
   * with the command); in place, first takes the placed contents away and puts back what the image had.
   */
  release(): void;
}

function octal(v: string | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^0?[0-7]{1,4}$/.test(v)) throw new InstructionError(`${what}: mode=${v} is not an octal file mode`);
  return parseInt(v, 8);
}

function id(v: string | undefined, key: string, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new InstructionError(`${what}: ${key}=${v} is not a numeric id`);
  return Number(v);
}

/** go-units RAMInBytes, as BuildKit reads tmpfs `size`: 64m, 1g, 100MB, 1024 (bytes); multiples of 1024. */
export function parseSize(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new InstructionError(`${what}: size=${v} is not a size (e.g. 64m, 1g, 1048576)`);
  const pow = " kmgtp".indexOf(m[2].toLowerCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

/** BuildKit resolves a relative mount target against the working directory. */
function absTarget(target: string, workdir: string | undefined): string {
  return posix.normalize(target.startsWith("/") ? target : posix.join("/", workdir || "/", target));
}

/** Copies a context subtree minus .dockerignore'd paths (BuildKit's context never holds them). */
function copyFiltered(src: string, rel: string, dest: string, ignore: IgnoreMatcher): void {
  const st = lstatSync(src);
  if (!st.isDirectory()) { cpSync(src, dest, { verbatimSymlinks: true, preserveTimestamps: true }); return; }
  mkdirSync(dest);
  for (const name of readdirSync(src)) {
    const r = rel ? `${rel}/${name}` : name;
    if (ignore.ignores(r) && !ignore.hasExceptions) continue;
    const s = join(src, name);
    if (lstatSync(s).isDirectory()) copyFiltered(s, r, join(dest, name), ignore);
    else if (!ignore.ignores(r)) cpSync(s, join(dest, name), { verbatimSymlinks: true, preserveTimestamps: true });
  }
  chmodSync(dest, st.mode & 0o7777);
}

export async function prepareMounts(list: RunMount[], workdir: string | undefined, ctx: StepContext, what: string): Promise<PreparedMounts> {
  const res = ctx.runMounts;
  const mounts: SandboxMount[] = [];
  const env: string[] = [];
  const stubs: Stub[] = [];
  const cleanups: (() => void)[] = [];
  let placements: Placements | undefined;
  const release = () => {
    try {
      placements?.restore();
    } finally {
      for (const s of stubs.reverse()) removeStub(s);
      for (const c of cleanups.reverse()) c();
    }
  };
  try {
    for (const m of list) {
      const label = `${what}: --mount=type=${m.type}${m.target ? `,target=${m.target}` : ""}`;
      if (!res) throw new InstructionError(`${label}: RUN mounts are not available here`);
      const asMountError = <T>(f: () => T): T => {
        try {
          return f();
        } catch (e) {
          if (e instanceof MountPointError) throw new InstructionError(`${label}: ${e.message}`);
          throw e;
        }
      };
      const stub = (target: string, kind: "dir" | "file") => asMountError(() => {
        const s = makeStub(ctx.rootDir, absTarget(target, workdir), kind);
        stubs.push(s);
        return s.host;
      });
      const place = (target: string, content: Content) => asMountError(() => {
        if (!placements) {
          const aside = res.scratch("aside-");
          cleanups.push(() => rmSync(aside, { recursive: true, force: true }));
          placements = new Placements(ctx.rootDir, aside);
        }
        placements.place(absTarget(target, workdir), content);
      });
      switch (m.type) {
        case "cache": {
          const seed = m.from !== undefined ? resolveHostPath(await ctx.fromRoot(m.from), m.source ?? "/") : undefined;
          if (seed !== undefined && !existsSync(seed)) throw new InstructionError(`${label}: source "${m.source}" not found in ${m.from}`);
          // In place the contents move into the target, so even a shared cache has one user at a time.
          const sharing = ctx.inPlace && m.sharing !== "private" ? "locked" : m.sharing ?? "shared";
          const c = await res.cache(m.id ?? m.target!, sharing, {
            mode: octal(m.mode, label, 0o755), uid: id(m.uid, "uid", label, 0), gid: id(m.gid, "gid", label, 0), ...(seed ? { seed } : {}),
          });
          cleanups.push(c.release);
          if (ctx.inPlace) place(m.target!, { kind: "move", dir: c.dir });
          else mounts.push({ type: "bind", source: c.dir, target: stub(m.target!, "dir"), readonly: m.readonly });
          break;
        }
        case "bind": {
          let source: string;
          let private_ = false; // a scratch copy already, which rw writes may change
          if (m.from !== undefined) {
            source = resolveHostPath(await ctx.fromRoot(m.from), m.source ?? "/");
            if (!existsSync(source)) throw new InstructionError(`${label}: source "${m.source ?? "/"}" not found in ${m.from}`);
          } else {
            source = resolveHostPath(ctx.buildContext.dir, m.source ?? "/");
            const rel = posix.normalize("/" + (m.source ?? "/")).slice(1).replace(/\/$/, "");
            if (!existsSync(source) || (rel && ctx.buildContext.ignore.ignores(rel))) {
              throw new InstructionError(`${label}: source "${m.source ?? "/"}" not found in the build context (or excluded by .dockerignore)`);
            }
            if (!ctx.buildContext.ignore.empty) {
              const d = res.scratch("bind-");
              cleanups.push(() => rmSync(d, { recursive: true, force: true }));
              copyFiltered(source, rel, join(d, "src"), ctx.buildContext.ignore);
              source = join(d, "src");
              private_ = true;
            }
          }
          if (ctx.inPlace) {
            // A copy either way: the command's writes, rw or not, go away with it.
            place(m.target!, { kind: "copy", source });
            break;
          }
          if (!m.readonly && !private_) {
            // rw: the command may write, but its writes are thrown away with the copy.
            const d = res.scratch("bind-");
            cleanups.push(() => rmSync(d, { recursive: true, force: true }));
            cpSync(source, join(d, "src"), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
            source = join(d, "src");
          }
          mounts.push({ type: "bind", source, target: stub(m.target!, statSync(source).isDirectory() ? "dir" : "file"), readonly: m.readonly });
          break;
        }
        case "tmpfs":
          if (ctx.inPlace) place(m.target!, { kind: "empty" });
          else mounts.push({ type: "tmpfs", target: stub(m.target!, "dir"), ...(m.size !== undefined ? { size: parseSize(m.size, label) } : {}) });
          break;
        case "secret": {
          const sid = m.id ?? "";
          const secret = res.secret(sid);
          if (!secret) {
            if (m.required) throw new InstructionError(`${what}: secret "${sid}" is required but was not given (pass --secret id=${sid},src=PATH or --secret id=${sid},env=VAR)`);
            break;
          }
          let bytes: Buffer;
          try {
            bytes = "file" in secret ? readFileSync(secret.file) : Buffer.from(secret.value);
          } catch (e) {
            throw new InstructionError(`${what}: secret "${sid}": cannot read ${"file" in secret ? secret.file : "its value"}: ${(e as NodeJS.ErrnoException).code ?? e}`);
          }
          if (m.env) env.push(`${m.env}=${bytes.toString("utf8")}`);
          if (m.target && ctx.inPlace) {
            place(m.target, { kind: "file", bytes, mode: octal(m.mode, label, 0o400), uid: id(m.uid, "uid", label, 0), gid: id(m.gid, "gid", label, 0) });
          } else if (m.target) {
            const d = res.scratch("secret-");
            cleanups.push(() => rmSync(d, { recursive: true, force: true }));
            const f = join(d, "secret");
            writeFileSync(f, bytes, { mode: 0o400 });
            chmodSync(f, octal(m.mode, label, 0o400));
            chownSync(f, id(m.uid, "uid", label, 0), id(m.gid, "gid", label, 0));
            mounts.push({ type: "bind", source: f, target: stub(m.target, "file"), readonly: true });
          }
          break;
        }
        case "ssh":
          throw new InstructionError(`${label}: ssh mounts need an SSH agent forwarded to the build, which kiln does not support`);
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  return { mounts, env, release };
}
