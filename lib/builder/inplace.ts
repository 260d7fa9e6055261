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

export class InPlaceRoot {
  readonly dir = "/";
  readonly ignorePaths: string[];
  readonly #logger: Logger;
  readonly #tmpDir: string;
  #dirty = false;

  constructor(o: InPlaceRootOptions) {
    this.ignorePaths = inPlaceIgnorePaths(o);
    this.#logger = o.logger;
    this.#tmpDir = o.tmpDir;
  }

  /** The root of the running container, with the mounts this process sees. */
  static open(o: Omit<InPlaceRootOptions, "mountinfo">): InPlaceRoot {
    return new InPlaceRoot({ ...o, mountinfo: readFileSync("/proc/self/mountinfo", "utf8") });
  }

  /** Called before a stage unpacks its base over "/": clears what an earlier stage of this build left there. */
  async claim(): Promise<void> {
    if (this.#dirty) await this.#wipe();
    this.#dirty = true;
  }

  /** --cleanup: removes what the build unpacked, so the container can run another build. */
  async cleanup(): Promise<void> {
    if (this.#dirty) await this.#wipe();
    this.#dirty = false;
  }

  async #wipe(): Promise<void> {
    this.#logger.info("Deleting the filesystem of the previous stage");
    await new RootFS("/", { logger: this.#logger, ignorePaths: this.ignorePaths, tmpDir: this.#tmpDir }).wipe();
  }
}
