// A stage's build root: apply layers into it, keep the baseline index, snapshot changes as layers.
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileLayer, type Layer } from "../image/mod.ts";
import { readLayer, writeLayer } from "../layer/mod.ts";
import type { Logger } from "../log/mod.ts";
import { applyEntries } from "./apply.ts";
import { type FileIndex, indexTree } from "./index.ts";
import { hostPath, joinRoot, layerPath, resolveInRoot, RootPathError, underAny } from "./paths.ts";
import { planEntries, planSnapshot } from "./snapshot.ts";

export interface RootFSOptions {
  logger: Logger;
  /** Absolute paths inside the root to leave out of snapshots (and of layer extraction), e.g. "/proc". */
  ignorePaths?: string[];
  /** Where layer temp files go. */
  tmpDir: string;
}

export interface SnapshotOptions {
  compression: "gzip" | "zstd";
  level?: number;
  mediaType: string;
  /** Limit the scan to these root paths (what COPY/WORKDIR touched); the whole tree when absent. */
  paths?: string[];
  /** Seconds since the epoch; mtimes after it are clamped to it. */
  sourceDateEpoch?: number;
}

export class RootFS {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #ignore: string[];
  readonly #tmpDir: string;
  // Undefined until baseline(): before it, everything in the root counts as new.
  #index: FileIndex | undefined;

  constructor(dir: string, opts: RootFSOptions) {
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.#logger = opts.logger;
    this.#ignore = (opts.ignorePaths ?? []).map((p) => layerPath(p));
    this.#tmpDir = opts.tmpDir;
  }

  /** Extracts one layer into the root; see applyEntries for the rules. Keeps the baseline in step. */
  async apply(layer: Layer): Promise<void> {
    const reader = readLayer(await layer.open());
    await applyEntries(this.dir, reader, { logger: this.#logger, ignorePaths: this.#ignore });
    if (reader.diffID !== layer.diffID) {
      this.#logger.warn("layer content does not match its diffID", { digest: layer.digest, expected: layer.diffID, got: reader.diffID });
    }
    // A full re-index is simple and always right (hardlinks and deletions change other paths'
    // ctimes); an incremental update from the applied paths is a later optimisation.
    if (this.#index) {
      this.#index = indexTree(this.dir, this.#ignore);
      await this.#tickPast();
    }
  }

  /** Records the current state as the baseline; call after the base layers are applied. */
  async baseline(): Promise<void> {
    this.#index = indexTree(this.dir, this.#ignore);
    await this.#tickPast();
  }

  /** Writes a layer of what changed since the baseline, or returns undefined when nothing did. Moves the baseline forward. */
  async snapshot(opts: SnapshotOptions): Promise<Layer | undefined> {
    const scopes = opts.paths ? this.#scopes(opts.paths) : ["/"];
    const plan = planSnapshot(this.dir, this.#index ?? new Map(), this.#ignore, scopes);
    if (plan.items.length === 0) {
      this.#index = plan.next;
      return undefined;
    }
    const entries = planEntries(this.dir, plan.items, {
      ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
      skipped: (p) => this.#logger.debug("not snapshotting a socket", { path: p }),
    });
    const blob = await writeLayer(entries, { dir: this.#tmpDir, compression: opts.compression, ...(opts.level !== undefined ? { level: opts.level } : {}) });
    this.#index = plan.next;
    await this.#tickPast();
    this.#logger.debug("snapshot written", { entries: plan.items.length, digest: blob.digest, size: blob.size });
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
        if (!underAny(r, this.#ignore)) out.add(r);
      }
    }
    return [...out];
  }

  /**
   * Empties the root for the next stage, keeping ignored paths (and the directories leading to
   * them). The baseline is dropped: the next stage starts from its own base layers.
   */
  async wipe(): Promise<void> {
    const keep = this.#ignore;
    const clear = (dir: string) => {
      for (const name of readdirSync(hostPath(this.dir, dir))) {
        const p = joinRoot(dir, name);
        if (underAny(p, keep)) continue;
        const host = hostPath(this.dir, p);
        if (keep.some((k) => k.startsWith(p + "/")) && lstatSync(host).isDirectory()) clear(p);
        else rmSync(host, { recursive: true, force: true });
      }
    };
    clear("/");
    this.#index = undefined;
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
