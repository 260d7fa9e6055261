// SHA-256 digests with Bun's native hasher (fast; hash-wasm is ~7x slower here).
export type Digest = `sha256:${string}`;

export function sha256(data: string | Uint8Array): Digest {
  const h = new Bun.CryptoHasher("sha256");
  h.update(data);
  return `sha256:${h.digest("hex")}`;
}

/** An incremental hasher, for digesting bytes as they stream past. */
export class StreamDigester {
  #h = new Bun.CryptoHasher("sha256");
  size = 0;
  update(chunk: Uint8Array): void {
    this.#h.update(chunk);
    this.size += chunk.byteLength;
  }
  digest(): Digest {
    return `sha256:${this.#h.digest("hex")}`;
  }
}

export function isDigest(s: string): s is Digest {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

/** The hex part of a digest, for blob file names (`blobs/sha256/<hex>`). */
export function digestHex(d: string): string {
  const i = d.indexOf(":");
  return d.slice(i + 1);
}
