import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { request, testPool, waitFor } from "./support/helpers.ts";

const storageDir = mkdtempSync(join(tmpdir(), "edge-runner-storage-test-"));
const storage = new StorageService({ store: new LocalObjectStore(storageDir), runnerId: "sdk", limits: { maxObjectBytes: 1024 ** 3, maxJobBytes: 1024 ** 3 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
const { pool, records } = testPool({ storage, cancelGraceMs: 200 });
afterAll(async () => {
  await pool.close();
  rmSync(storageDir, { recursive: true, force: true });
});

test("ActionContext.outputs merges named outputs into the job's output", async () => {
  expect(await pool.run(request("sdk-features", "outputs"))).toEqual({ status: "succeeded", output: { count: 2, names: ["a", "b"], returned: true } });
});

test("ActionContext.outputs keeps outputs set before a failure", async () => {
  expect(await pool.run(request("sdk-features", "outputsThenFail"))).toEqual({
    status: "failed",
    error: { code: "half_done", message: "failed after an output" },
    output: { partial: "kept" },
  });
});

test("ActionContext.outputs.set() refuses a value that cannot be cloned", async () => {
  const outcome = await pool.run(request("sdk-features", "badOutput"));
  expect(outcome.status).toBe("failed");
  expect(outcome.error?.message).toStartWith('Cannot set output "fn": the value cannot be cloned');
});

test("ActionContext.secrets.get() resolves from the job's secrets and the value never reaches a log line or error", async () => {
  const secret = "s3cr3t-value-for-test";
  const req = request("sdk-features", "secret", { input: { ref: "db/password" }, secrets: { "db/password": secret } });
  const outcome = await pool.run(req);
  expect(outcome.status).toBe("failed");
  expect(outcome.error?.message).toBe("still the secret: [REDACTED]");
  expect(req.logs.map((l) => l.msg)).toEqual(["the secret is [REDACTED]"]);
  expect(JSON.stringify(records)).not.toContain(secret);
});

test("a secret straddling a clipping limit is redacted before the cut, so no half of it gets through", async () => {
  const secret = "S3CRET-straddles-the-cut-0123456789";
  const req = request("sdk-features", "secretAtCut", { input: { ref: "k" }, secrets: { k: secret } });
  const outcome = await pool.run(req);
  const halves = [secret.slice(0, secret.length / 2), secret.slice(secret.length / 2)];
  const texts = [outcome.error?.message ?? "", ...req.logs.map((l) => l.msg), ...req.steps.map((st) => st.message ?? "")];
  expect(texts).toHaveLength(3);
  for (const text of texts) {
    expect(text).toContain("[REDACTED]");
    expect(text).toContain("more characters cut");
    for (const half of halves) expect(text).not.toContain(half);
  }
  expect(req.logs[0]!.msg.length).toBeLessThan(64 * 1024 + 100);
  expect(outcome.error!.message.length).toBeLessThan(16 * 1024 + 100);
});

test("ActionContext.secrets.get() fails with secret_not_found for a reference the job lacks", async () => {
  const outcome = await pool.run(request("sdk-features", "secret", { input: { ref: "missing" }, secrets: { other: "value-1234" } }));
  expect(outcome).toEqual({ status: "failed", error: { code: "secret_not_found", message: 'Cannot resolve secret "missing" for job "sdk-features-secret": the job has no such secret' } });
});

test("ActionContext.storage puts, gets, lists and deletes a job's data", async () => {
  const outcome = await pool.run(request("sdk-features", "storage"));
  expect(outcome).toEqual({ status: "succeeded", output: { listed: ["a/b.txt", "bin"], text: "hello", bytes: [1, 2, 3], missing: true, deleted: true, after: ["a/b.txt"] } });
});

test("ActionContext.artifacts.maxBytes in a worker thread is the runner's artifactMaxBytes (100 MiB unless configured)", async () => {
  expect(await pool.run(request("sdk-features", "artifactLimit"))).toEqual({ status: "succeeded", output: { maxBytes: 100 * 1024 * 1024 } });
  const limited = testPool({ artifactMaxBytes: 7_654_321 }).pool;
  try {
    expect(await limited.run(request("sdk-features", "artifactLimit"))).toEqual({ status: "succeeded", output: { maxBytes: 7_654_321 } });
  } finally {
    await limited.close();
  }
});

test("ActionContext.storage is deleted when the job ends", async () => {
  const outcome = await pool.run(request("sdk-features", "storageKeep", { jobId: "keep-1" }));
  expect(outcome.status).toBe("succeeded");
  expect(existsSync(join(storageDir, "sdk.d", "keep-1.d"))).toBe(false);
  expect(existsSync(storageDir) ? readdirSync(storageDir) : []).toEqual([]);
});

test("ActionContext.storage refuses a key that escapes the job's directory", async () => {
  const outcome = await pool.run(request("sdk-features", "storageBadKey"));
  expect(outcome.status).toBe("failed");
  expect(outcome.error?.code).toBe("input_invalid");
  expect(outcome.error?.message).toStartWith('Cannot store "../escape": a storage key is');
});

test("ActionContext.fetch is aborted when the job is cancelled", async () => {
  // A server that never answers: only the job's signal can end the request.
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => undefined) });
  try {
    const cancel = new AbortController();
    const req = request("sdk-features", "fetch", { input: { url: `http://127.0.0.1:${server.port}/` }, signal: cancel.signal });
    const run = pool.run(req);
    await waitFor(() => req.logs.length > 0, "the fetch to start");
    cancel.abort("stop");
    const outcome = await run;
    expect(outcome.status).toBe("cancelled");
    // The plugin stopped within its grace (its fetch rejected), so the worker was kept.
    expect(records.some((r) => r.msg === "Terminating plugin worker: the plugin did not stop in time" && r.jobId === req.jobId)).toBe(false);
  } finally {
    server.stop(true);
  }
});
