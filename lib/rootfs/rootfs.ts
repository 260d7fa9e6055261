// A stage's build root: apply layers into it, keep the baseline index, snapshot changes as layers.
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileLayer, type Layer } from "../image/mod.ts";
import { readLayer, writeLayer } from "../layer/mod.ts";
import { formatBytes, type Logger } from "../log/mod.ts";
import { applyEntries } from "./apply.ts";
import { ContentHasher } from "./content-hash.ts";
import { LayerDigestError, RootMoveError } from "./errors.ts";
import { type FileIndex, type SnapshotMode, type StatRecord, sameRecord, statPath, S_IFMT, S_IFREG, walkInto } from "./index.ts";
import { ignorePredicate } from "./ignore.ts";
import { hostPath, joinRoot, layerPath, parentOf, resolveInRoot, RootPathError, underAny } from "./paths.ts";
import { planEntries, planSnapshot } from "./snapshot.ts";

/** "sha256:0123456789ab": enough to tell the layers of a build apart in the log. */
const shortDigest = (d: string) => d.slice(0, d.indexOf(":") + 13);

export interface RootFSOptions {
  logger: Logger;
  /** Absolute paths inside the root to leave out of snapshots (and of layer extraction), e.g. "/proc". */
  ignorePaths?: string[];
  /** Where layer temp files go. */
  tmpDir: string;
  /** kaniko's --snapshot-mode; `full` when absent. */
  snapshotMode?: SnapshotMode;
}

export interface SnapshotOptions {
  compression: "gzip" | "zstd" | "none";
  level?: number;
  mediaType: string;
  /** Limit the scan to these root paths (what COPY/WORKDIR touched); the whole tree when absent. */
  paths?: string[];
  /** Seconds since the epoch; mtimes after it are clamped to it. */
  sourceDateEpoch?: number;
  /** Told where the snapshot's time went: the walk and diff, and writing the layer (tar and compression). */
  timings?: (t: { walkMs: number; writeMs: number }) => void;
}

export class RootFS {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #ignore: string[];
  readonly #tmpDir: string;
  readonly #mode: SnapshotMode;
  // VOLUME paths: what is beneath them is ignored from now on, the path itself is not (kaniko's PrefixMatchOnly).
  readonly #beneath: string[] = [];
  #ignored: (p: string) => boolean;
  // One synchronous walk (statx per entry): a worker-thread split was tried and lost to object
  // rebuilding on the main thread (see BENCHMARKS.md); the seam stays here.
  readonly #walk = async (scope: string, into: FileIndex): Promise<void> => walkInto(this.dir, scope, this.#ignored, into);
  // Undefined until baseline(): before it, everything in the root counts as new.
  #index: FileIndex | undefined;
  // Content hashes of files written by apply(), attached to the index at baseline().
  readonly #applied = new Map<string, string>();
  #hasher: ContentHasher | undefined;

  constructor(dir: string, opts: RootFSOptions) {
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.#logger = opts.logger;
    this.#ignore = (opts.ignorePaths ?? []).map((p) => layerPath(p));
    this.#tmpDir = opts.tmpDir;
    this.#mode = opts.snapshotMode ?? "full";
    this.#ignored = ignorePredicate({ paths: this.#ignore, beneath: this.#beneath });
  }

  /** Leaves everything beneath `path` (not the path itself) out of later snapshots: a VOLUME. */
  ignoreBeneath(path: string): void {
    const p = layerPath(path);
    if (!this.#beneath.includes(p)) this.#beneath.push(p);
    this.#ignored = ignorePredicate({ paths: this.#ignore, beneath: this.#beneath });
  }

  async #contentHasher(): Promise<ContentHasher> {
    return (this.#hasher ??= await ContentHasher.create());
  }

  /**
   * Extracts one layer into the root; see applyEntries for the rules. Applying it again after a failure is safe
   * (re-applying a layer over a partial copy of itself gives the same tree): the builder retries. Keeps the
   * baseline in step.
   */
  async apply(layer: Layer): Promise<void> {
    const started = performance.now();
    // A layer already in a file is read by the inflating worker itself; one from a registry is
    // checked against its digest there too, not by the stream on this thread.
    const unverified = layer.path === undefined && layer.openUnverified !== undefined;
    const source = layer.path !== undefined ? { file: layer.path } : unverified ? await layer.openUnverified!() : await layer.open();
    // A layer from a registry is pulled and unpacked in one stream: this counts both.
    const progress = this.#logger.progress("unpack", { subject: shortDigest(layer.digest), total: layer.size });
    const reader = readLayer(source, { hashBlob: unverified, onBytes: progress.update });
    const touched = new Set<string>();
    try {
      await applyEntries(this.dir, reader, {
        logger: this.#logger, ignorePaths: this.#ignore, hashes: this.#applied, hasher: await this.#contentHasher(), touched,
      });
    } catch (err) {
      progress.cancel();
      throw err;
    }
    progress.done();
    if (unverified && (reader.blob.digest !== layer.digest || reader.blob.size !== layer.size)) {
      throw new LayerDigestError(layer, reader.blob);
    }
    if (reader.diffID !== layer.diffID) {
      this.#logger.warn("layer content does not match its diffID", { digest: layer.digest, expected: layer.diffID, got: reader.diffID });
    }
    this.#logger.debug("layer applied", { digest: layer.digest, paths: touched.size, ms: Math.round(performance.now() - started) });
    if (this.#index) {
      this.#reindex(this.#index, touched);
      await this.#tickPast();
    }
  }

  // After a layer lands on a baselined root, re-records only what it touched: the touched paths
  // and everything beneath them, and their parent directories (whose mtimes changed).
  #reindex(index: FileIndex, touched: Set<string>): void {
    if (touched.size === 0) return;
    const tops = [...touched].sort().filter((p, i, all) => !all.slice(0, i).some((q) => p.startsWith(q + "/")));
    const topSet = new Set(tops);
    const before = new Map<string, StatRecord>();
    for (const [p, rec] of index) {
      for (let a = p; a !== "/"; a = parentOf(a)) {
        if (topSet.has(a)) { before.set(p, rec); index.delete(p); break; }
      }
    }
    const parents = new Set<string>();
    for (const t of tops) {
      walkInto(this.dir, t, this.#ignored, index);
      for (let a = parentOf(t); a !== "/"; a = parentOf(a)) parents.add(a);
    }
    for (const a of parents) {
      const rec = statPath(this.dir, a);
      if (rec) index.set(a, rec);
    }
    for (const [p, old] of before) {
      const rec = index.get(p);
      if (rec && sameRecord(old, rec)) rec.hash = old.hash;
    }
    for (const t of touched) {
      const rec = index.get(t);
      const h = this.#applied.get(t);
      if (rec && h !== undefined && (rec.mode & S_IFMT) === S_IFREG) rec.hash = h;
    }
    this.#applied.clear();
  }

  /** Records the current state as the baseline; call after the base layers are applied. */
  async baseline(): Promise<void> {
    const started = performance.now();
    this.#index = new Map();
    await this.#walk("/", this.#index);
    for (const [p, rec] of this.#index) {
      const h = this.#applied.get(p);
      if (h !== undefined && (rec.mode & S_IFMT) === S_IFREG) rec.hash = h;
    }
    this.#applied.clear();
    this.#logger.debug("baseline indexed", { entries: this.#index.size, ms: Math.round(performance.now() - started) });
    await this.#tickPast();
  }

  /** Writes a layer of what changed since the baseline, or returns undefined when nothing did. Moves the baseline forward. */
  async snapshot(opts: SnapshotOptions): Promise<Layer | undefined> {
    const scopes = opts.paths ? this.#scopes(opts.paths) : ["/"];
    const hasher = await this.#contentHasher();
    const plan = await planSnapshot(this.dir, this.#index ?? new Map(), this.#ignored, scopes, { mode: this.#mode, hasher, walk: this.#walk });
    const { walkMs, diffMs, walked } = plan.timings;
    if (plan.items.length === 0) {
      opts.timings?.({ walkMs: walkMs + diffMs, writeMs: 0 });
      this.#index = plan.next;
      this.#logger.debug("snapshot: no changes", { walked, walkMs: Math.round(walkMs), diffMs: Math.round(diffMs) });
      return undefined;
    }
    const hashes = new Map<string, string>();
    const entries = planEntries(this.dir, plan.items, {
      ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
      skipped: (p) => this.#logger.debug("not snapshotting a socket", { path: p }),
      hasher, hashes,
    });
    const t0 = performance.now();
    // Counts the tar bytes (what the step changed); the final line adds the compressed size.
    const progress = this.#logger.progress("snapshot");
    let blob;
    try {
      blob = await writeLayer(entries, {
        dir: this.#tmpDir, compression: opts.compression, ...(opts.level !== undefined ? { level: opts.level } : {}), onTarBytes: progress.update,
      });
    } catch (err) {
      progress.cancel();
      throw err;
    }
    progress.done({ compressed: formatBytes(blob.size), digest: shortDigest(blob.digest) });
    const tarMs = performance.now() - t0;
    opts.timings?.({ walkMs: walkMs + diffMs, writeMs: tarMs });
    for (const [p, h] of hashes) {
      const rec = plan.next.get(p);
      if (rec && (rec.mode & S_IFMT) === S_IFREG) rec.hash = h;
    }
    this.#index = plan.next;
    await this.#tickPast();
    this.#logger.debug("snapshot written", {
      entries: plan.items.length, walked, walkMs: Math.round(walkMs), diffMs: Math.round(diffMs),
      tarAndCompressMs: Math.round(tarMs), digest: blob.digest, size: blob.size,
    });
    return fileLayer({ path: blob.path, mediaType: opts.mediaType, digest: blob.digest, size: blob.size, diffID: blob.diffID });
  }

  #scopes(paths: string[]): string[] {
    const out = new Set<string>();
    for (const p of paths) {
      let n: string;
      try {
        n = layerPath(p);
      } catch (err) {
        if (err instanceof RootPathError) throw new Error(`snapshot path "${p}" leaves the build root: name a path inside it`);
        throw err;
      }
      // Resolved in the root: an absolute symlink on the way must not lead the walk to host files.
      // A symlink named itself is scanned both as the link and as what it points to.
      for (const r of new Set([resolveInRoot(this.dir, n, false), resolveInRoot(this.dir, n, true)])) {
        if (!this.#ignored(r)) out.add(r);
      }
    }
    return [...out];
  }

  /**
   * Empties the root for the next stage, keeping ignored paths (and the directories leading to
   * them). The baseline is dropped: the next stage starts from its own base layers.
   */
  async wipe(): Promise<void> {
    const started = performance.now();
    this.#eachRemovable((host) => rmSync(host, { recursive: true, force: true }));
    this.#index = undefined;
    this.#logger.debug("root wiped", { ms: Math.round(performance.now() - started) });
  }

  /**
   * Moves what wipe() would delete into the empty directory `dest` (outside what it moves: under an ignored path),
   * as the same tree: renamed, so it costs about what deleting would. The directories wipe() keeps because an
   * ignored path lies beneath them are made again in `dest` with their mode, owner and times. An entry that cannot
   * be renamed there (another file system, an overlayfs lower directory) is copied (`cp -a`) and left for the wipe.
   */
  moveOut(dest: string): void {
    const target = (p: string) => (p === "/" ? dest : dest + p);
    const kept: { to: string; atime: Date; mtime: Date }[] = [];
    const recreate = (host: string, to: string) => {
      // Stat first: moving the entries out changes the directory's mtime.
      const st = lstatSync(host);
      mkdirSync(to, { recursive: true });
      chownSync(to, st.uid, st.gid);
      chmodSync(to, st.mode & 0o7777);
      kept.push({ to, atime: st.atime, mtime: st.mtime });
    };
    recreate(this.dir, dest);
    this.#eachRemovable((host, p) => {
      try {
        renameSync(host, target(p));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EBUSY") throw e;
        const cp = Bun.spawnSync(["cp", "-a", "--reflink=auto", host, target(p)], { stderr: "pipe" });
        if (cp.exitCode !== 0) throw new RootMoveError(p, dest, cp.stderr.toString().trim());
      }
    }, (host, p) => recreate(host, target(p)));
    // Once its entries moved in, which changed it.
    for (const { to, atime, mtime } of kept) utimesSync(to, atime, mtime);
  }

  /**
   * Calls `remove` for each top-most entry that is not ignored, and `enter` for each directory kept because an
   * ignored path lies beneath it (before its entries): what a wipe deletes and what it leaves.
   */
  #eachRemovable(remove: (host: string, p: string) => void, enter: (host: string, p: string) => void = () => {}): void {
    const keep = this.#ignore;
    const visit = (dir: string) => {
      for (const name of readdirSync(hostPath(this.dir, dir))) {
        const p = joinRoot(dir, name);
        if (underAny(p, keep)) continue;
        const host = hostPath(this.dir, p);
        if (keep.some((k) => k.startsWith(p + "/")) && lstatSync(host).isDirectory()) {
          enter(host, p);
          visit(p);
        } else remove(host, p);
      }
    };
    visit("/");
  }

  // Waits until file timestamps tick past the index time, so a change made right after the
  // index was taken cannot share its timestamp with the recorded state.
  async #tickPast(): Promise<void> {
    const dir = mkdtempSync(join(this.#tmpDir, ".tick-"));
    const probe = join(dir, "p");
    try {
      writeFileSync(probe, "x");
      const start = statSync(probe, { bigint: true }).mtimeNs;
      for (let i = 0; i < 1000; i++) {
        await Bun.sleep(1);
        writeFileSync(probe, "x");
        if (statSync(probe, { bigint: true }).mtimeNs !== start) return;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
