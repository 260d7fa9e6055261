// Where COPY --from and RUN --mount from= find their files: an earlier stage's root, or an image unpacked once
// into the work dir. In place, "/" holds only the stage being built: an earlier stage's files were moved into the
// work dir when the next stage took "/" over (InPlaceRoot), or, when they were not, it is unpacked from its layers.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Dockerfile } from "../dockerfile/mod.ts";
import type { Image } from "../image/mod.ts";
import type { Logger } from "../log/mod.ts";
import { RootFS } from "../rootfs/mod.ts";
import { BuildError } from "./errors.ts";
import { findStage } from "./plan.ts";
import type { InPlaceRoot } from "./inplace.ts";
import type { StageResult } from "./stage.ts";

export interface FromRootsOptions {
  df: Dockerfile;
  workDir: string;
  logger: Logger;
  /** In place: the shared root, which keeps the files of stages named by a later COPY --from. */
  inPlace: InPlaceRoot | undefined;
  /** A stage's result once it is built; undefined when the build does not build it. */
  stageResult(index: number): Promise<StageResult> | undefined;
  /** Pulls an image named by --from (for the build's platform). */
  pull(ref: string): Promise<Image>;
}

export class FromRoots {
  readonly #o: FromRootsOptions;
  readonly #unpacked = new Map<string, Promise<string>>();

  constructor(o: FromRootsOptions) {
    this.#o = o;
  }

  /** The lookup of the stage at `stageIndex`, which may name only stages before it. */
  forStage(stageIndex: number): (from: string) => Promise<string> {
    return async (from) => {
      const { df, workDir, inPlace } = this.#o;
      const dep = findStage(df, from, stageIndex);
      if (!dep) return this.#unpackOnce(`image:${from}`, join(workDir, "images", String(this.#unpacked.size)), () => this.#o.pull(from));
      // A stage named only through an expanded --from value is not a planned dependency: wait for it here.
      const r = await this.#o.stageResult(dep.index);
      if (!r) throw new BuildError(`COPY --from=${from}: stage ${dep.index} was not built`);
      if (!inPlace) return r.root();
      const dir = this.#stageDir(dep.index);
      return inPlace.kept(dir) ? dir : this.#unpackOnce(`stage:${dep.index}`, dir, async () => r.image);
    };
  }

  /**
   * In place: where stage `index`'s files are kept once a later stage takes "/" over, when a later stage names it
   * in COPY --from or RUN --mount from= (a name only known once expanded still finds the stage, from its layers).
   */
  keepDir(index: number): string | undefined {
    const { df, inPlace } = this.#o;
    if (!inPlace) return undefined;
    const named = df.stages.slice(index + 1).some((s) => s.instructions.some((instr) =>
      (instr.kind === "COPY" && instr.from !== undefined && findStage(df, instr.from, s.index)?.index === index) ||
      (instr.kind === "RUN" && instr.mounts.some((m) => m.from !== undefined && findStage(df, m.from, s.index)?.index === index))));
    return named ? this.#stageDir(index) : undefined;
  }

  #stageDir(index: number): string {
    return join(this.#o.workDir, "stages", String(index));
  }

  #unpackOnce(key: string, dir: string, image: () => Promise<Image>): Promise<string> {
    let p = this.#unpacked.get(key);
    if (!p) {
      p = (async () => {
        const img = await image();
        mkdirSync(dir, { recursive: true });
        const fs = new RootFS(dir, { logger: this.#o.logger, tmpDir: join(this.#o.workDir, "tmp") });
        for (const l of img.layers) await fs.apply(l);
        return dir;
      })();
      this.#unpacked.set(key, p);
    }
    return p;
  }
}
