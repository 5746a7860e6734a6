// Jobs share the S3 store's connections (50). Jobs holding every one of them with open reads
// must not hold up another attempt's cleanup (which runs before its result is reported), and a
// request with no body to move is bounded as a whole, the wait for a connection included.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { noArtifactSink } from "../../src/artifacts/artifact-sink.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { redactor } from "../../src/log/redact.ts";
import { JobCalls } from "../../src/plugins/host-calls.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { MIB } from "./backends.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

let server: S3Server;
beforeAll(async () => { server = await startS3rver(); });
afterAll(async () => { await server.stop(); });

function within<T>(promise: Promise<T>, ms: number): Promise<T | "still waiting"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([promise, new Promise<"still waiting">((resolve) => { timer = setTimeout(() => resolve("still waiting"), ms); })]).finally(() => clearTimeout(timer));
}

test("S3 store: 4 jobs holding all 50 job connections with open reads do not hold up another attempt's release, and a head waits no longer than its deadline", async () => {
  const store = createS3Store({ bucket: server.bucket, prefix: "runs", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * MIB, requestTimeoutMs: 300 });
  const svc = new StorageService({ store, runnerId: "r-sockets", limits: { maxObjectBytes: 8 * MIB, maxJobBytes: 64 * MIB }, logger: memoryLogger().logger, sweepGraceMs: 60_000, sweepIntervalMs: 0, retries: 0 });
  const calls = (jobId: string): JobCalls => new JobCalls({ jobId, attempt: 1, secrets: { get: () => Promise.reject(new Error("none")) }, storage: svc, artifacts: noArtifactSink, artifactMaxBytes: 1, signal: () => new AbortController().signal, redaction: redactor.child(jobId) });
  const other = svc.open({ jobId: "other", attempt: 1 });
  await other.put("small", new Uint8Array([1]));
  const readers = ["a", "b", "c", "d"].map(calls);
  // Bodies of 1 MiB that nobody reads keep their connections busy.
  for (const reader of readers) await reader.answer({ op: "storage.put", key: "big", data: new Uint8Array(MIB) });
  const opened = readers.flatMap((reader) => Array.from({ length: 13 }, () => reader.answer({ op: "stream.read_open", key: "big" }).catch((e: unknown) => e)));
  // 50 of the 52 opens hold a connection; the last two wait for one until their deadline.
  const settled = await Promise.all(opened);
  expect(settled.filter((r) => (r as { stream?: number }).stream !== undefined).length).toBeGreaterThanOrEqual(50);
  const started = performance.now();
  expect(await within(other.head("small").then(() => "answered", (e: { code?: string }) => e.code ?? "error"), 10_000)).toBe("storage_failed");
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(await within(svc.release(other).then(() => "released"), 10_000)).toBe("released");
  expect(svc.stats.cleanupFailures).toBe(0);
  for (const reader of readers) await reader.close();
  await svc.close();
}, 30_000);
