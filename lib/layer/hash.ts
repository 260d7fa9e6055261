// A sha256 that counts bytes as they stream past. Kept here (not imported from lib/image)
// because layer may import nothing of ours but log.
export class Sha256Counter {
  #h = new Bun.CryptoHasher("sha256");
  size = 0;
  update(chunk: Uint8Array): void {
    this.#h.update(chunk);
    this.size += chunk.byteLength;
  }
  /** `sha256:<hex>`; call once, at the end. */
  digest(): string {
    return `sha256:${this.#h.digest("hex")}`;
  }
}
