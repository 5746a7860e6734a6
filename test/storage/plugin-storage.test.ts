// ctx.storage and ctx.artifacts through real plugin workers, on both backends: streams across the
// worker boundary byte-identical, limits, artifacts with digests, and the attempt's objects gone
// in every outcome (success, failure, timeout, cancel, worker crash, pool close).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { ArtifactSink } from "../../src/artifacts/artifact-sink.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { PoolPolicy } from "../../src/plugins/pool-policy.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { request, testPool, waitFor } from "../plugins/support/helpers.ts";
import { BACKENDS, MIB, pattern, type BackendFixture } from "./backends.ts";

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out;
}

/** An artifact sink that keeps the bytes in memory, as a controller would keep them on disk. */
function memorySink(): { sink: ArtifactSink; kept: Map<string, Uint8Array> } {
  const kept = new Map<string, Uint8Array>();
  return {
    kept,
    sink: {
      async put(upload) {
        const bytes = new Uint8Array(await new Response(upload.body).arrayBuffer());
        kept.set(`${upload.jobId}/${upload.name}`, bytes);
        return { sha256: createHash("sha256").update(bytes).digest("hex") };
      },
    },
  };
}

for (const [name, start] of BACKENDS) {
  describe(`plugins using storage on the ${name} backend`, () => {
    let backend: BackendFixture;
    let storage: StorageService;
    let store: ObjectStore;
    let pool: ReturnType<typeof testPool>["pool"];
    const artifacts = memorySink();
    beforeAll(async () => {
      backend = await start();
      store = backend.open({ partSizeBytes: 5 * MIB });
      storage = new StorageService({ store, runnerId: "plugin-runner", limits: { maxObjectBytes: 16 * MIB, maxJobBytes: 32 * MIB }, logger: memoryLogger().logger, sweepGraceMs: 60_000, sweepIntervalMs: 0 });
      pool = testPool({ storage, cancelGraceMs: 200, artifacts: () => artifacts.sink, artifactMaxBytes: 4 * MIB }).pool;
    });
    afterAll(async () => {
      await pool.close();
      await storage.close();
      await backend.stop();
    });

    test("a stream goes in and comes out byte-identical, with content type and metadata", async () => {
      const size = 12 * MIB + 3;
      const outcome = await pool.run(request("storage-user", "roundTrip", { jobId: `rt-${name}`, input: { size, chunk: 100_003 } }));
      expect(outcome).toMatchObject({
        status: "succeeded",
        output: { stored: size, head: { key: "data/blob", size, contentType: "application/octet-stream", metadata: { kind: "blob" } }, check: { size, ok: true }, missing: true },
      });
      expect(await keys(store, "plugin-runner/")).toEqual([]);
    });

    test("streams work the same in process isolation (chunks over the child's IPC channel)", async () => {
      const isolated = testPool({ storage, policy: new PoolPolicy({ maxWorkers: 1, maxJobsPerWorker: 1000, idleMs: 60_000, prewarm: 0, isolation: "process" }), artifacts: () => artifacts.sink }).pool;
      try {
        const size = 6 * MIB + 5;
        const outcome = await isolated.run(request("storage-user", "roundTrip", { jobId: `proc-${name}`, input: { size, chunk: 65_537 } }));
        expect(outcome).toMatchObject({ status: "succeeded", output: { stored: size, check: { size, ok: true } } });
        expect(await keys(store, "plugin-runner/")).toEqual([]);
      } finally {
        await isolated.close();
      }
    }, 60_000);

    test("a stream past the object limit fails with storage_limit and leaves nothing", async () => {
      const outcome = await pool.run(request("storage-user", "tooLarge", { jobId: `big-${name}`, input: { size: 17 * MIB } }));
      expect(outcome.status).toBe("failed");
      expect(outcome.error?.code).toBe("storage_limit");
      expect(await keys(store, "plugin-runner/")).toEqual([]);
    });

    test("artifacts stream to the sink and their size and digest travel with the outcome", async () => {
      const outcome = await pool.run(request("storage-user", "artifact", { jobId: `art-${name}` }));
      expect(outcome.status).toBe("succeeded");
      const plan = pattern(2 * MIB + 5);
      const sha = createHash("sha256").update(plan).digest("hex");
      expect(outcome.output).toMatchObject({ plan: { name: "plan.bin", size: plan.byteLength, sha256: sha, contentType: "application/octet-stream" }, note: { name: "note.txt", size: 5 } });
      expect(outcome.artifacts?.map((a) => a.name)).toEqual(["plan.bin", "note.txt"]);
      expect(Buffer.compare(Buffer.from(artifacts.kept.get(`art-${name}/plan.bin`) ?? []), Buffer.from(plan))).toBe(0);
    });

    test("an artifact past artifactMaxBytes fails with storage_limit and is not recorded", async () => {
      const outcome = await pool.run(request("storage-user", "bigArtifact", { jobId: `bigart-${name}`, input: { size: 4 * MIB + 1 } }));
      expect(outcome).toMatchObject({ status: "failed", error: { code: "storage_limit" } });
      expect(outcome.artifacts).toBeUndefined();
    });

    const outcomes: Array<[string, string, (req: ReturnType<typeof request>, cancel: AbortController) => void]> = [
      ["succeeded", "succeed", () => undefined],
      ["failed", "fail", () => undefined],
      ["timed_out", "hang", () => undefined],
      ["cancelled", "stopOnCancel", (req, cancel) => void waitFor(() => req.logs.length > 0, "the objects to be stored").then(() => cancel.abort("stop"))],
      ["failed", "crash", () => undefined],
    ];
    for (const [status, action, poke] of outcomes) {
      test(`objects are deleted when the job ends ${status} (${action})`, async () => {
        const cancel = new AbortController();
        const req = request("storage-user", action, { jobId: `${action}-${name}`, signal: cancel.signal, timeoutMs: action === "hang" ? 1500 : 10_000 });
        const run = pool.run(req);
        poke(req, cancel);
        const outcome = await run;
        expect(outcome.status).toBe(status as never);
        expect(req.logs.map((l) => l.msg)).toContain("stored");
        expect(await keys(store, "plugin-runner/")).toEqual([]);
      });
    }

    test("objects are deleted when the pool closes under a running job (drain or stop), and an upload in flight is aborted", async () => {
      const local = testPool({ storage, cancelGraceMs: 200 }).pool;
      const req = request("storage-user", "uploadForever", { jobId: `close-${name}` });
      const run = local.run(req);
      await waitFor(() => req.logs.length > 0, "the upload to start");
      await Bun.sleep(200);
      await local.close();
      const outcome = await run;
      expect(outcome.status).toBe("cancelled");
      expect(await keys(store, "plugin-runner/")).toEqual([]);
    });

    test("a storage call after the run ended is refused", async () => {
      expect((await pool.run(request("storage-user", "useAfterEnd", { jobId: `late-${name}` }))).status).toBe("succeeded");
      const late = await pool.run(request("storage-user", "lateResult", { jobId: `late2-${name}` }));
      expect(late).toMatchObject({ status: "succeeded", output: "job_cancelled" });
      expect(await keys(store, "plugin-runner/")).toEqual([]);
    });
  });
}
