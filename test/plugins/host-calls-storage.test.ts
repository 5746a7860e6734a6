// JobCalls' storage streams: the per-attempt stream limit holds against opens racing each other,
// a read opening while the attempt closes is cancelled, never left open, and a read whose body
// fails part-way gives its slot back.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noArtifactSink } from "../../src/artifacts/artifact-sink.ts";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { redactor } from "../../src/log/redact.ts";
import { contextStorage } from "../../src/plugins/context-storage.ts";
import { JobCalls } from "../../src/plugins/host-calls.ts";
import type { HostCall } from "../../src/plugins/worker-protocol.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

const root = mkdtempSync(join(tmpdir(), "host-calls-storage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function jobCalls(store: ObjectStore, jobId: string): { calls: JobCalls; storage: StorageService } {
  const storage = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const calls = new JobCalls({ jobId, attempt: 1, secrets: { get: () => Promise.reject(new Error("none")) }, storage, artifacts: noArtifactSink, artifactMaxBytes: 1, signal: () => new AbortController().signal, redaction: redactor.child(jobId) });
  return { calls, storage };
}

const code = (e: unknown): string => (e instanceof EdgeError ? e.code : String(e));

test("JobCalls.answer() stream.read_open: 17 concurrent opens, exactly one refused with storage_limit", async () => {
  const { calls } = jobCalls(new LocalObjectStore(join(root, "limit")), "limit");
  await calls.answer({ op: "storage.put", key: "k", data: new Uint8Array([1, 2, 3]) });
  const results = await Promise.allSettled(Array.from({ length: 17 }, () => calls.answer({ op: "stream.read_open", key: "k" })));
  const refused = results.filter((r) => r.status === "rejected");
  expect(refused.map((r) => code((r as PromiseRejectedResult).reason))).toEqual(["storage_limit"]);
  // A slot held by an open that found nothing is given back.
  await calls.answer({ op: "stream.read_end", stream: ((results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ stream: number }>).value).stream });
  expect(await calls.answer({ op: "stream.read_open", key: "missing" })).toBeUndefined();
  expect(await calls.answer({ op: "stream.read_open", key: "k" })).toMatchObject({ info: { size: 3 } });
  await expect(calls.answer({ op: "stream.read_open", key: "k" })).rejects.toMatchObject({ code: "storage_limit" });
  await calls.close();
});

test("JobCalls.answer() stream.read_open: a read still opening when the attempt closes is cancelled and refused", async () => {
  const local = new LocalObjectStore(join(root, "closing"));
  let letGo: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { letGo = resolve; });
  let opening: () => void = () => undefined;
  const started = new Promise<void>((resolve) => { opening = resolve; });
  let cancelled = 0;
  const store: ObjectStore = {
    kind: local.kind,
    location: local.location,
    put: (key, body, options) => local.put(key, body, options),
    head: (key) => local.head(key),
    list: (prefix, options) => local.list(prefix, options),
    children: (prefix, options) => local.children(prefix, options),
    delete: (key) => local.delete(key),
    deletePrefix: (prefix) => local.deletePrefix(prefix),
    close: () => local.close(),
    async get(key) {
      opening();
      await gate;
      const found = await local.get(key);
      if (found === undefined) return undefined;
      const reader = found.body.getReader();
      return { info: found.info, body: new ReadableStream<Uint8Array>({ pull: async (c) => { const r = await reader.read(); if (r.done) c.close(); else c.enqueue(r.value); }, cancel: async (reason) => { cancelled++; await reader.cancel(reason); } }) };
    },
  };
  const { calls } = jobCalls(store, "closing");
  await calls.answer({ op: "storage.put", key: "k", data: new Uint8Array([1]) });
  const open = calls.answer({ op: "stream.read_open", key: "k" }).then(() => "opened", code);
  await started;
  const closed = calls.close();
  letGo();
  expect(await open).toBe("storage_closed");
  await closed;
  expect(cancelled).toBe(1);
});

/** A local store whose bodies fail on their first pull (an S3 connection reset while streaming). */
function failingBodies(dir: string): ObjectStore {
  const local = new LocalObjectStore(join(root, dir));
  return {
    kind: local.kind,
    location: local.location,
    put: (key, body, options) => local.put(key, body, options),
    head: (key) => local.head(key),
    list: (prefix, options) => local.list(prefix, options),
    children: (prefix, options) => local.children(prefix, options),
    delete: (key) => local.delete(key),
    deletePrefix: (prefix) => local.deletePrefix(prefix),
    close: () => local.close(),
    async get(key) {
      const found = await local.get(key);
      if (found === undefined) return undefined;
      await found.body.cancel();
      return { info: found.info, body: new ReadableStream<Uint8Array>({ pull(c) { c.error(new Error("ECONNRESET")); } }) };
    },
  };
}

test("JobCalls.answer() stream.read: a body failing part-way gives its stream slot back", async () => {
  const { calls } = jobCalls(failingBodies("read-fails-host"), "read-fails-host");
  await calls.answer({ op: "storage.put", key: "k", data: new Uint8Array([1, 2, 3]) });
  for (let i = 0; i < 16; i++) {
    const { stream } = (await calls.answer({ op: "stream.read_open", key: "k" })) as { stream: number };
    await expect(calls.answer({ op: "stream.read", stream })).rejects.toThrow("ECONNRESET");
  }
  // No read_end was sent for any of them: the 16 slots are free again all the same.
  for (let i = 0; i < 16; i++) expect(await calls.answer({ op: "stream.read_open", key: "k" })).toMatchObject({ info: { size: 3 } });
  await calls.close();
});

test("contextStorage() getStream: a read that fails sends no read_end (the host dropped the stream with the failed read)", async () => {
  const sent: string[] = [];
  const ctx = contextStorage(async (request: HostCall) => {
    sent.push(request.op);
    if (request.op === "stream.read_open") return { stream: 7, info: { key: "k", size: 3 } };
    if (request.op === "stream.read") throw new Error("ECONNRESET");
    return undefined;
  });
  await expect(ctx.get("k")).rejects.toThrow("ECONNRESET");
  // It was sent: a host call the host answered with nothing, for a stream it no longer had.
  expect(sent).toEqual(["stream.read_open", "stream.read"]);
});

test("ctx.storage.get() through JobCalls: 16 reads failing part-way leave the 17th able to open", async () => {
  const { calls } = jobCalls(failingBodies("read-fails-sdk"), "read-fails-sdk");
  const ops: string[] = [];
  const ctx = contextStorage((c) => {
    ops.push(c.op);
    return calls.answer(c);
  });
  await ctx.put("k", new Uint8Array([1, 2, 3]));
  for (let i = 0; i < 16; i++) await expect(ctx.get("k")).rejects.toThrow("ECONNRESET");
  expect((await ctx.getStream("k"))?.info).toMatchObject({ size: 3 });
  // The host gave each slot back with its failed read: no read_end was needed for it.
  expect(ops.filter((op) => op === "stream.read_end")).toEqual([]);
  await calls.close();
});
