// Bundle digests: `sha256-<base64url>` in manifests and signatures, hex in cache file names.

import { createHash, timingSafeEqual, type Hash } from "node:crypto";

const DIGEST = /^sha256-[A-Za-z0-9_-]{43}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === "string" && DIGEST.test(value);
}

export function sha256Digest(bytes: Uint8Array): string {
  return formatDigest(createHash("sha256").update(bytes).digest());
}

/** An incremental digest for streamed bodies: update() per chunk, then digest(). */
export class StreamDigest {
  readonly #hash: Hash = createHash("sha256");
  #bytes = 0;

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
  }

  get bytes(): number {
    return this.#bytes;
  }

  digest(): string {
    return formatDigest(this.#hash.digest());
  }
}

/** `sha256-<base64url>` → lower-case hex, the cache file name. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new TypeError(`Invalid digest "${digest}": expected "sha256-" and 43 base64url characters`);
  return Buffer.from(digest.slice("sha256-".length), "base64url").toString("hex");
}

/** Constant-time comparison; digests are not secret, but this costs nothing and ends the question. */
export function digestEquals(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function formatDigest(raw: Buffer): string {
  return "sha256-" + raw.toString("base64url");
}
