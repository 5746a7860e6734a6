// The two backends the storage suite runs against: the local directory and a real s3rver.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

export interface BackendFixture {
  readonly name: "local" | "s3";
  /** A store on the shared backend (same directory or bucket each call), as another runner would open it. */
  open(options?: { partSizeBytes?: number }): ObjectStore;
  stop(): Promise<void>;
}

export const MIB = 1024 * 1024;

export async function localBackend(): Promise<BackendFixture> {
  const dir = mkdtempSync(join(tmpdir(), "edge-storage-"));
  return {
    name: "local",
    open: () => new LocalObjectStore(dir),
    async stop() { rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function s3Backend(): Promise<BackendFixture & { server: S3Server }> {
  const server = await startS3rver();
  return {
    name: "s3",
    server,
    open: (options = {}) => createS3Store({
      bucket: server.bucket,
      prefix: "runs",
      region: "us-east-1",
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      partSizeBytes: options.partSizeBytes ?? 8 * MIB,
    }),
    stop: () => server.stop(),
  };
}

export const BACKENDS: ReadonlyArray<[string, () => Promise<BackendFixture>]> = [["local", localBackend], ["s3", s3Backend]];

/** Deterministic bytes that differ at every offset modulo 251 (a prime, so chunk boundaries show). */
export function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i + seed) % 251;
  return out;
}

/** A stream of `size` pattern bytes in `chunk`-sized pieces, generated as it is read. */
export function patternStream(size: number, chunk = 64 * 1024, seed = 0): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= size) return controller.close();
      const n = Math.min(chunk, size - at);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (at + i + seed) % 251;
      at += n;
      controller.enqueue(bytes);
    },
  }, { highWaterMark: 0 });
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
