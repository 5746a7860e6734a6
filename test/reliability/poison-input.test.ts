// Issue 9 item 1: no JSON value the controller accepts can crash it. A job input or output
// nested 39,998 levels deep used to be accepted, made `GET /api/v1/jobs` answer 500 and every
// compaction die in JSON.stringify (Bun stops at 40,000 levels), on every restart.

import type { ControllerStore } from "../../src/reference-controller/store.ts";
import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeRunner, makeController, type Harness } from "../reference-controller/helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

async function submit(body: string): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const res = await h!.controller.app.request("/api/v1/jobs", { method: "POST", headers: ADMIN, body });
  return { status: res.status, json: (await res.json()) as { error?: { code: string; message: string } } };
}

test("POST /api/v1/jobs refuses an input nested past 64 levels or past 1 MiB with 400 input_invalid naming the field", async () => {
  h = makeController();
  for (const depth of [65, 99]) {
    const res = await submit(`{"plugin":"echo","input":${nested(depth)}}`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "input_invalid", message: expect.stringContaining(`"input" nests deeper than 64 levels`) });
  }
  // Deeper than any body may be: refused before a field is looked at, still a 400 that says why.
  for (const depth of [39_998, 39_999, 100_000]) {
    const res = await submit(`{"plugin":"echo","input":${nested(depth)}}`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "input_invalid", message: expect.stringContaining(`"body" nests deeper than`) });
  }
  const big = await submit(JSON.stringify({ plugin: "echo", input: { blob: "x".repeat(1024 * 1024 + 10) } }));
  expect(big.status).toBe(400);
  expect(big.json.error?.message).toContain(`"input" is larger than 1048576 bytes`);
  // A body past the endpoint's cap is a 413, cut off while it streams.
  expect((await submit(JSON.stringify({ plugin: "echo", input: { blob: "x".repeat(3 * 1024 * 1024) } }))).status).toBe(413);
  const ok = await submit(`{"plugin":"echo","input":${nested(64)}}`);
  expect(ok.status).toBe(201);
  const list = await h.controller.app.request("/api/v1/jobs", { headers: ADMIN });
  expect(list.status).toBe(200);
  expect(h.controller.core.store.jobs.size).toBe(1);
});

test("a runner's result whose output is past the bounds fails the job (output_invalid) instead of poisoning the store", async () => {
  h = makeController({ compactAfter: 3 });
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.raw(`{"v":1,"type":"result","jobId":"${job.id}","attempt":1,"lastSeq":0,"status":"succeeded","startedAt":1,"finishedAt":2,"output":${nested(70)}}`);
  expect(r.last("result_ack")).toMatchObject({ accepted: true });
  const stored = h.controller.getJob(job.id);
  expect(stored).toMatchObject({ status: "failed", error: { code: "output_invalid", message: expect.stringContaining(`"output" nests deeper than 64 levels`) } });
  expect(stored?.output).toBeUndefined();
  // A frame nested past any message's depth is malformed: answered, counted, nothing stored.
  const other = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.raw(`{"v":1,"type":"result","jobId":"${other.id}","attempt":1,"lastSeq":0,"status":"succeeded","startedAt":1,"finishedAt":2,"output":${nested(39_998)}}`);
  expect(r.last("error").error).toMatchObject({ code: "malformed_frame", message: expect.stringContaining("nests deeper than 100 levels") });
  expect(h.controller.getJob(other.id)?.status).toBe("leased");
  // The journal still compacts and replays.
  (h.controller.core.store as ControllerStore).compact();
  h = await h.reopen();
  expect(h.controller.getJob(job.id)?.status).toBe("failed");
});

test("a journal poisoned by an earlier version replays without the poison, and compaction works again", async () => {
  h = makeController();
  const job = h.controller.submitJob({ plugin: "echo" });
  await h.controller.close();
  const journal = path.join(h.dataDir, "controller", "journal.jsonl");
  const record = JSON.parse(fs.readFileSync(journal, "utf8").trim().split("\n").at(-1) as string) as { job: Record<string, unknown> };
  // The line an unbounded controller wrote: the input 39,998 levels deep.
  const line = JSON.stringify({ t: "job", job: { ...record.job, input: "__POISON__" } }).replace('"__POISON__"', nested(39_998));
  fs.appendFileSync(journal, line + "\n");
  h = makeController({ compactAfter: 1 }, h.dataDir);
  expect(h.controller.getJob(job.id)?.input).toBeNull();
  expect(h.records.some((r) => r.level === "error" && r.msg.includes("past the bounds"))).toBe(true);
  h.controller.submitJob({ plugin: "echo" });
  expect(h.controller.core.store.compaction.failures).toBe(0);
  expect(fs.existsSync(path.join(h.dataDir, "controller", "snapshot.json"))).toBe(true);
  const list = await h.controller.app.request("/api/v1/jobs", { headers: ADMIN });
  expect(list.status).toBe(200);
});

test("a compaction that fails is logged, retried later and shown in health; it never ends the process", async () => {
  h = makeController({ compactAfter: 1 });
  const dir = path.join(h.dataDir, "controller");
  // The snapshot's place is taken by a directory: every rename onto it fails.
  fs.mkdirSync(path.join(dir, "snapshot.json", "blocker"), { recursive: true });
  h.controller.submitJob({ plugin: "echo" });
  h.controller.submitJob({ plugin: "echo" });
  const compaction = h.controller.core.store.compaction;
  expect(compaction.failures).toBe(1);
  expect(compaction.lastError).toBeDefined();
  expect(h.records.some((r) => r.level === "error" && r.msg.includes("Cannot compact the controller journal"))).toBe(true);
  expect(fs.readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
  const health = await h.controller.app.request("/api/v1/health", { headers: ADMIN });
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", store: { compaction: { failures: 1 } } });
  // After the backoff it is tried again and works once the cause is gone.
  fs.rmSync(path.join(dir, "snapshot.json"), { recursive: true });
  h.clock.advance(2_000);
  h.controller.submitJob({ plugin: "echo" });
  expect(h.controller.core.store.compaction.failures).toBe(0);
  expect(fs.statSync(path.join(dir, "snapshot.json")).isFile()).toBe(true);
});

test("a lease sweep that throws is logged, retried on the next tick and counted in health; the loop goes on", async () => {
  const { ManualTimer } = await import("../reference-controller/helpers.ts");
  const timer = new ManualTimer();
  h = makeController({ autoSweep: true, timer });
  const original = h.controller.core.expireLeases.bind(h.controller.core);
  let calls = 0;
  h.controller.core.expireLeases = () => {
    calls++;
    if (calls === 1) throw new RangeError("Maximum call stack size exceeded");
    return original();
  };
  timer.fireAll();
  timer.fireAll();
  expect(calls).toBe(2);
  const health = await h.controller.app.request("/api/v1/health", { headers: ADMIN });
  expect(await health.json()).toMatchObject({ status: "ok", background: { sweep: { failures: 1, lastError: expect.stringContaining("Maximum call stack") } } });
  expect(h.records.some((r) => r.level === "error" && r.msg.includes("Lease sweep failed"))).toBe(true);
});
