// Content hashes for the file index: xxhash128 (hash-wasm) of a regular file's bytes plus its
// extended attributes. Computed on bytes already streaming past (layer extraction, layer
// writing), so keeping them costs no extra read of the tree.
import { createReadStream } from "node:fs";
import type { IHasher } from "hash-wasm";

export class ContentHasher {
  private constructor(private readonly h: IHasher) {}

  static async create(): Promise<ContentHasher> {
    // Loaded when first used, not at every kiln start (BENCHMARKS.md, issue 13).
    const { createXXHash128 } = await import("hash-wasm");
    return new ContentHasher(await createXXHash128());
  }

  begin(): void {
    this.h.init();
  }

  update(chunk: Uint8Array): void {
    this.h.update(chunk);
  }

  /** The hash of the bytes since begin() and of these attributes. */
  end(xattrs: Record<string, Uint8Array> | undefined): string {
    const content = this.h.digest("hex");
    const names = Object.keys(xattrs ?? {}).sort();
    if (names.length === 0) return content;
    this.h.init();
    const enc = new TextEncoder();
    for (const n of names) {
      this.h.update(enc.encode(`${n}\0${xattrs![n].byteLength}\0`));
      this.h.update(xattrs![n]);
    }
    return `${content}+${this.h.digest("hex")}`;
  }

  /** Reads a file and hashes it (for the few candidates whose stat changed but whose metadata did not). */
  async file(host: string, xattrs: Record<string, Uint8Array>): Promise<string> {
    this.begin();
    for await (const chunk of createReadStream(host, { highWaterMark: 1 << 20 })) this.update(chunk as Uint8Array);
    return this.end(xattrs);
  }
}
