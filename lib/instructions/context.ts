// What steps may use besides the stage state: the build root, the sandbox and the sources for COPY.
import type { Logger } from "../log/mod.ts";
import type { BuildContext } from "../context/mod.ts";
import type { MountResources } from "./mounts.ts";

export interface StepContext {
  /** The stage's build root on the host (created and filled with the base before a step that needs it runs). */
  rootDir: string;
  buildContext: BuildContext;
  /** Build roots of other stages (by index) and of images used with COPY --from, resolved by the build. */
  fromRoot: (from: string) => Promise<string>;
  /** --build-arg values and meta ARG values (for ARG and RUN). */
  buildArgs: Record<string, string | undefined>;
  metaArgs: ReadonlyMap<string, string | undefined>;
  selfCommand: string[];
  /** RUN on the real "/" (the executor image's in-place mode) instead of chrooting into rootDir. */
  inPlace?: boolean;
  logger: Logger;
  stdout?: (chunk: Uint8Array) => void;
  stderr?: (chunk: Uint8Array) => void;
  /** The build's directory for the RUN runtime's state (containers, bundles, the files every RUN gets). */
  runtimeDir: string;
  /** Network of a RUN without --network (isolated mode). */
  network: "private" | "host" | "none";
  /** Where steps may make scratch files (heredoc sources). */
  tmpDir: string;
  /** Cache directories and secrets behind RUN --mount (build-wide; absent where mounts cannot be offered). */
  runMounts?: MountResources;
}
