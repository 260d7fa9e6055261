// A stage's build root, set up on first use: only a step that touches files, or a later stage that copies from
// this one, pays for unpacking the base.
import { chmodSync, mkdirSync } from "node:fs";
import type { Image } from "../image/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Layer } from "../image/mod.ts";
import { withBackoff } from "../registry/mod.ts";
import { RootFS, type SnapshotMode } from "../rootfs/mod.ts";
import { BuildError } from "./errors.ts";
import type { InPlaceRoot } from "./inplace.ts";

export interface StageRootOptions {
  /** The stage's own directory (isolated mode); in place the root is `inPlace.dir`. */
  dir: string;
  base: Image;
  /** The root of the base when it is an earlier stage: copied instead of applying its layers again. */
  baseRoot?: () => Promise<string>;
  inPlace?: InPlaceRoot;
  /** In place: where the stage's files are kept when the next stage claims "/" (a later stage copies from it). */
  keepAs?: string;
  /** What snapshots leave out (isolated mode; in place the in-place root's list). */
  ignorePaths: string[];
  snapshotMode: SnapshotMode;
  /** Retries when applying a base layer fails (--image-fs-extract-retry). */
  extractRetries: number;
  /** Wait before the first of them, doubled for each next one; kaniko's 1 s when absent. */
  extractRetryDelayMs?: number;
  logger: Logger;
  tmpDir: string;
}

export class StageRoot {
  readonly dir: string;
  readonly #o: StageRootOptions;
  #fs: RootFS | undefined;
  #setUp: Promise<RootFS> | undefined;
  /** Layers cache hits appended since the files were last needed, in order. */
  readonly #pending: Layer[] = [];
  #applying: Promise<void> = Promise.resolve();

  constructor(o: StageRootOptions) {
    this.#o = o;
    this.dir = o.inPlace ? o.inPlace.dir : o.dir;
  }

  /** The root once it is set up; undefined before. */
  get current(): RootFS | undefined {
    return this.#fs;
  }

  /**
   * The root, set up the first time (concurrent callers share one set-up), with every layer a cache hit appended
   * applied: a stage whose steps all hit never unpacks anything unless a later step or stage needs its files.
   */
  async get(): Promise<RootFS> {
    const fs = await (this.#setUp ??= this.#create().then((fs) => (this.#fs = fs)));
    this.#applying = this.#applying.then(async () => {
      while (this.#pending.length) {
        const layer = this.#pending.shift()!;
        this.#o.logger.info(`Unpacking cached layer ${layer.digest.slice(0, 19)}`);
        await applyWithRetries(fs, layer, this.#o);
      }
    });
    await this.#applying;
    return fs;
  }

  /** A layer a cache hit appended: its files arrive when (and if) a later step or stage needs them. */
  addCachedLayer(layer: Layer): void {
    this.#pending.push(layer);
  }

  async #create(): Promise<RootFS> {
    const o = this.#o;
    if (o.inPlace) {
      await o.inPlace.claim({ keepAs: o.keepAs, settled: () => this.#fs !== undefined && this.#pending.length === 0 });
    } else {
      mkdirSync(this.dir, { recursive: true });
      chmodSync(this.dir, 0o755); // a container's "/" is 0755; non-root users must be able to enter it
    }
    const fs = new RootFS(this.dir, { logger: o.logger, ignorePaths: o.inPlace?.ignorePaths ?? o.ignorePaths, tmpDir: o.tmpDir, snapshotMode: o.snapshotMode });
    // In-place, the earlier stage's files were wiped from "/": its layers are applied again instead.
    if (o.baseRoot && !o.inPlace) {
      const src = await o.baseRoot();
      const cp = Bun.spawnSync(["cp", "-a", "--reflink=auto", `${src}/.`, this.dir], { stderr: "pipe" });
      if (cp.exitCode !== 0) throw new BuildError(`copying the root of the base stage failed: ${cp.stderr.toString().trim()}`);
    } else {
      for (const [i, layer] of o.base.layers.entries()) {
        o.logger.info(`Unpacking layer ${i + 1}/${o.base.layers.length} ${layer.digest.slice(0, 19)}`);
        await applyWithRetries(fs, layer, o);
      }
    }
    await fs.baseline();
    return fs;
  }
}

/** A failed extraction is tried again, with the registry client's backoff rules (one retry helper for the project). */
async function applyWithRetries(fs: RootFS, layer: Layer, o: StageRootOptions): Promise<void> {
  const attempts = o.extractRetries + 1;
  await withBackoff({ attempts, firstDelayMs: o.extractRetryDelayMs ?? 1000, warn: (m) => o.logger.warn(m) }, async (last) => {
    try {
      await fs.apply(layer);
      return { done: undefined };
    } catch (err) {
      if (last && attempts > 1 && err instanceof Error) err.message += ` (after ${attempts} attempts)`;
      return { again: err, because: `applying layer ${layer.digest} failed: ${(err as Error).message}` };
    }
  });
}
