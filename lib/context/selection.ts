// Which entries COPY takes from a source root: .dockerignore (context sources only) and --exclude, applied as
// BuildKit applies them. COPY and the cache key's source digest both ask this one filter, so a key sees exactly
// the files the step will copy.
import { basename } from "node:path";
import { IgnoreMatcher } from "./dockerignore.ts";
import type { ResolvedSource } from "./sources.ts";

export class SourceFilter {
  readonly #ignore: IgnoreMatcher | undefined;
  readonly #exclude: IgnoreMatcher | undefined;

  /** `ignore`: the context's .dockerignore (none for --from roots); `exclude`: the instruction's --exclude patterns. */
  constructor(ignore: IgnoreMatcher | undefined, exclude: readonly string[]) {
    this.#ignore = ignore;
    this.#exclude = exclude.length ? new IgnoreMatcher([...exclude]) : undefined;
  }

  /** A resolved source itself: --exclude drops a file source by its base name (a directory is filtered inside). */
  keepSource(src: ResolvedSource): boolean {
    return !(this.#exclude && !src.isDir && this.#exclude.ignores(basename(src.rel)));
  }

  /**
   * An entry `sub` (relative to the source) below a directory source. An excluded directory is still entered
   * when a `!` rule could bring back something below it; its entries are then judged one by one.
   */
  keepEntry(src: ResolvedSource, sub: string, isDir: boolean): boolean {
    if (sub === "") return true;
    const ctxRel = src.rel ? `${src.rel}/${sub}` : sub;
    if (this.#ignore && this.#ignore.ignores(ctxRel) && !(isDir && this.#ignore.mayIncludeBelow(ctxRel))) return false;
    if (this.#exclude && this.#exclude.ignores(sub) && !(isDir && this.#exclude.hasExceptions)) return false;
    return true;
  }
}
