// Timestamps of a build: `created` of history entries and the config, and the mtime clamp of new layers.
import type { BuildOptions } from "./options.ts";

export interface BuildClock {
  /** Seconds every timestamp is pinned to (--reproducible: 0; SOURCE_DATE_EPOCH); undefined: the real time. */
  epoch?: number;
  /** The time now, as the image config writes it (RFC 3339, whole seconds). */
  now(): string;
}

export function buildClock(options: Pick<BuildOptions, "reproducible" | "sourceDateEpoch" | "now">): BuildClock {
  const epoch = options.reproducible ? 0 : options.sourceDateEpoch;
  const clock = epoch !== undefined ? () => new Date(epoch * 1000) : (options.now ?? (() => new Date()));
  return { ...(epoch !== undefined ? { epoch } : {}), now: () => clock().toISOString().replace(/\.\d+Z$/, "Z") };
}
