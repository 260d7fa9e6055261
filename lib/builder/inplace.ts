// The in-place mode's single build root: "/" of the executor container. Stages take turns on it; what one
// stage unpacked is wiped before the next one unpacks its base (and after the build with --cleanup), keeping
// the ignore list: kiln's own directory, every mount (the context volume, /proc, /dev, /sys, /etc/hosts ...),
// the context and --ignore-path entries.
import { readFileSync } from "node:fs";
import type { Logger } from "../log/mod.ts";
import { inPlaceIgnorePaths, RootFS } from "../rootfs/mod.ts";

export interface InPlaceRootOptions {
  /** kiln's directory (/kaniko): the binary, its loader and libraries, CA certs, config.json, the builds' own directories. */
  workDir: string;
  /** The build context directory, kept even when it is not a mount. */
  contextDir: string;
  /** Text of /proc/self/mountinfo. */
  mountinfo: string;
  extraIgnorePaths: string[];
  logger: Logger;
  tmpDir: string;
}

/** The stage whose files "/" holds. */
export interface RootOwner {
  /**
   * Where its files go when the next stage claims "/", for a later COPY --from or RUN --mount from= (a directory
   * under the work dir); undefined: they are deleted.
   */
  keepAs?: string;
  /** Whether "/" holds exactly the stage's files: every layer of it applied (a cache hit's may still be pending). */
  settled(): boolean;
}

export class InPlaceRoot {
  readonly dir = "/";
  readonly ignorePaths: string[];
  readonly #logger: Logger;
  readonly #tmpDir: string;
  #owner: RootOwner | undefined;
  readonly #kept = new Set<string>();

  constructor(o: InPlaceRootOptions) {
    this.ignorePaths = inPlaceIgnorePaths(o);
    this.#logger = o.logger;
    this.#tmpDir = o.tmpDir;
  }

  /** The root of the running container, with the mounts this process sees. */
  static open(o: Omit<InPlaceRootOptions, "mountinfo">): InPlaceRoot {
    return new InPlaceRoot({ ...o, mountinfo: readFileSync("/proc/self/mountinfo", "utf8") });
  }

  /** Called before a stage unpacks its base over "/": clears (or keeps aside) what an earlier stage left there. */
  async claim(owner: RootOwner = { settled: () => false }): Promise<void> {
    if (this.#owner) await this.#release(this.#owner);
    this.#owner = owner;
  }

  /** --cleanup: removes what the build unpacked, so the container can run another build. */
  async cleanup(): Promise<void> {
    if (this.#owner) await this.#release({ settled: () => false });
    this.#owner = undefined;
  }

  /** Whether `dir` holds a finished stage's files, moved out of "/" when the next stage claimed it. */
  kept(dir: string): boolean {
    return this.#kept.has(dir);
  }

  async #release(owner: RootOwner): Promise<void> {
    const fs = new RootFS("/", { logger: this.#logger, ignorePaths: this.ignorePaths, tmpDir: this.#tmpDir });
    // Moving the files out costs what deleting them would, where unpacking the stage's layers again for a COPY
    // --from cost a base's worth of files and the stage's own (BENCHMARKS.md, issue 16). The destination must be
    // kept by the wipe, or it would move into itself.
    const keepAs = owner.keepAs !== undefined && owner.settled() && this.ignorePaths.some((k) => owner.keepAs!.startsWith(k + "/")) ? owner.keepAs : undefined;
    if (keepAs !== undefined) {
      this.#logger.info(`Keeping the filesystem of the previous stage in ${keepAs}`);
      fs.moveOut(keepAs);
      this.#kept.add(keepAs);
    } else {
      this.#logger.info("Deleting the filesystem of the previous stage");
    }
    await fs.wipe();
  }
}
