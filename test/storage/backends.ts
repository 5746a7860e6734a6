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

// The pattern bytes live in test/helpers/pattern-bytes.ts (a plugin fixture uses them too).
export { pattern, patternStream } from "../helpers/pattern-bytes.ts";

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
