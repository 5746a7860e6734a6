// Artifacts on the reference controller: only the runner holding the attempt's lease may upload
// (authenticated before the body is read), the size limit holds, the digest is the controller's
// own, the admin API lists and serves them, the result names them, and retention drops them.
// Against both stores: files in the data directory, and PostgreSQL (storeUrl).

import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { EDGE_PATHS } from "../../src/protocol/edge-v1.ts";
import { FakeRunner, openController, type Harness } from "./helpers.ts";
import { forEachStore } from "../helpers/stores.ts";
import { eventually } from "../helpers/harness.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

const ADMIN = { authorization: "Bearer test-admin-token" };
const HOUR = 3_600_000;

function upload(runner: FakeRunner, jobId: string, attempt: number, name: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(h.controller.app.request(EDGE_PATHS.artifact(jobId, attempt, name), {
    method: "PUT",
    headers: { authorization: `Bearer ${runner.apiKey}`, "x-edge-runner-id": runner.id, "content-type": "text/plain", ...headers },
    body: body as BodyInit,
  }));
}

async function leased(runner: FakeRunner): Promise<{ jobId: string; attempt: number }> {
  await h.settle();
  const job = h.controller.submitJob({ plugin: "echo" });
  runner.send({ type: "credit", slots: 1 });
  await h.settle();
  return { jobId: job.id, attempt: runner.last("offer").job.attempt };
}

forEachStore("job artifacts", (store) => {
  test("the lease holder uploads an artifact; the admin API lists it and serves its bytes with the digest", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    const { jobId, attempt } = await leased(r);
    const body = "plan: 3 to add, 0 to destroy";
    const sha256 = createHash("sha256").update(body).digest("hex");
    const res = await upload(r, jobId, attempt, "plan.txt", body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ v: 1, name: "plan.txt", size: body.length, sha256 });
    r.send({ type: "result", jobId, attempt, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2, artifacts: [{ name: "plan.txt", size: body.length, sha256, contentType: "text/plain" }] });
    await h.settle();
    expect(h.controller.getJob(jobId)).toMatchObject({ status: "succeeded", artifacts: [{ name: "plan.txt", size: body.length, sha256 }] });

    const list = await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts`, { headers: ADMIN });
    expect(await list.json()).toMatchObject({ artifacts: [{ name: "plan.txt", size: body.length, sha256, contentType: "text/plain", attempt }] });
    const got = await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts/plan.txt`, { headers: ADMIN });
    expect(got.status).toBe(200);
    expect(got.headers.get("x-artifact-sha256")).toBe(sha256);
    expect(await got.text()).toBe(body);
    expect((await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts/other`, { headers: ADMIN })).status).toBe(404);
    // Without the admin token: nothing.
    expect((await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts/plan.txt`)).status).toBe(401);
  });

  test("an upload is refused for a wrong key, another runner, another attempt, a bad name, or past the size limit", async () => {
    h = await openController(store, { artifactMaxBytes: 1024 });
    const r1 = FakeRunner.connect(h.controller, "r1");
    const r2 = FakeRunner.connect(h.controller, "r2");
    const { jobId, attempt } = await leased(r1);
    const wrongKey = await h.controller.app.request(EDGE_PATHS.artifact(jobId, attempt, "a"), { method: "PUT", headers: { authorization: "Bearer nope", "x-edge-runner-id": "r1" }, body: "x" });
    expect(wrongKey.status).toBe(401);
    expect((await upload(r2, jobId, attempt, "a", "x")).status).toBe(409);
    expect((await upload(r1, jobId, attempt + 1, "a", "x")).status).toBe(409);
    expect((await upload(r1, jobId, attempt, "bad name", "x")).status).toBe(400);
    const big = await upload(r1, jobId, attempt, "big", new Uint8Array(2048));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("storage_limit");
    // A refused upload leaves nothing behind, not even a temp file (or a chunk).
    const list = await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts`, { headers: ADMIN });
    expect(await list.json()).toEqual({ artifacts: [] });
    const dir = path.join(h.dataDir, "controller", "artifacts");
    const files = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes(".tmp")) : [];
    expect(files).toEqual([]);
    if (store.kind === "postgres") expect(await store.sql()`SELECT upload_id FROM job_artifact_chunks`).toHaveLength(0);
  });

  test("a result naming a malformed artifact is refused as a protocol error", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    const { jobId, attempt } = await leased(r);
    r.send({ type: "result", jobId, attempt, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2, artifacts: [{ name: "../x", size: 1, sha256: "nothex" }] });
    await h.settle();
    expect(h.controller.getJob(jobId)?.status).not.toBe("succeeded");
  });

  test("artifacts are deleted with their job when its retention ends", async () => {
    h = await openController(store, { jobRetentionMs: HOUR });
    const r = FakeRunner.connect(h.controller, "r1");
    const { jobId, attempt } = await leased(r);
    expect((await upload(r, jobId, attempt, "kept", "bytes")).status).toBe(200);
    r.send({ type: "result", jobId, attempt, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    const dir = path.join(h.dataDir, "controller", "artifacts", encodeURIComponent(jobId));
    const stored = async () => (store.kind === "embedded" ? fs.existsSync(path.join(dir, "kept.data")) : (await store.sql()`SELECT 1 FROM job_artifact_chunks`).length > 0);
    expect(await stored()).toBe(true);
    h.clock.advance(HOUR);
    h.controller.sweep();
    await h.settle();
    expect(h.controller.getJob(jobId)).toBeUndefined();
    // The database store deletes in the background.
    await eventually(async () => ((await stored()) ? undefined : true), 10_000, "artifacts deleted");
    if (store.kind === "postgres") expect(await store.sql()`SELECT 1 FROM job_artifacts`).toHaveLength(0);
  });

  test("an artifact uploaded again (a later attempt) replaces the earlier one, and a large one streams in and out whole", async () => {
    h = await openController(store, { artifactMaxBytes: 5 * 1024 * 1024 });
    const r = FakeRunner.connect(h.controller, "r1");
    const { jobId, attempt } = await leased(r);
    expect((await upload(r, jobId, attempt, "out.bin", "first")).status).toBe(200);
    // 3 MiB and a bit: more than one chunk of the database store.
    const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) % 251);
    expect((await upload(r, jobId, attempt, "out.bin", big)).status).toBe(200);
    const got = await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts/out.bin`, { headers: ADMIN });
    expect(got.headers.get("x-artifact-sha256")).toBe(createHash("sha256").update(big).digest("hex"));
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(big);
    const list = (await (await h.controller.app.request(`/api/v1/jobs/${jobId}/artifacts`, { headers: ADMIN })).json()) as { artifacts: Array<{ size: number }> };
    expect(list.artifacts.map((a) => a.size)).toEqual([big.byteLength]);
    // The replaced upload's bytes are gone; the new one is in 1 MiB chunks.
    if (store.kind === "postgres") expect(await store.sql()`SELECT upload_id, count(*)::int AS n FROM job_artifact_chunks GROUP BY upload_id`).toMatchObject([{ n: 4 }]);
  });
});
