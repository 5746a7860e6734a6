// s3rver behind a StallingRelay, for the tests of an S3 endpoint that stops answering while its
// connections stay open (a frozen MinIO, a black-holed VPC endpoint): one per test file, started
// before its tests and stopped after them.

import { afterAll, beforeAll } from "bun:test";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StallingRelay } from "../helpers/stalling-relay.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

export interface StallingS3 {
  /** The relay: set `stalled` to stop answering. Set once the file's tests start. */
  readonly relay: StallingRelay;
  /** An S3 store under key prefix `prefix`, through the relay, whose requests time out after `requestTimeoutMs`. */
  store(prefix: string, requestTimeoutMs: number): ObjectStore;
}

/** Registers the file's beforeAll/afterAll that start and stop s3rver and its relay. Call at the top level of a test file. */
export function stallingS3(): StallingS3 {
  let s3: S3Server | undefined;
  let relay: StallingRelay | undefined;
  beforeAll(async () => {
    s3 = await startS3rver();
    relay = new StallingRelay(Number(new URL(s3.endpoint).port));
    await relay.listen();
  });
  afterAll(async () => {
    await relay?.close();
    await s3?.stop();
  });
  const started = (): { s3: S3Server; relay: StallingRelay } => {
    if (s3 === undefined || relay === undefined) throw new Error("Cannot use the stalling S3 endpoint before the file's tests start");
    return { s3, relay };
  };
  return {
    get relay() {
      return started().relay;
    },
    store(prefix, requestTimeoutMs) {
      const { s3, relay } = started();
      return createS3Store({
        bucket: s3.bucket, prefix, region: "us-east-1", endpoint: `http://127.0.0.1:${relay.port}`, forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS, partSizeBytes: 5 * 1024 * 1024, requestTimeoutMs,
      });
    },
  };
}
