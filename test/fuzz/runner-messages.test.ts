// Fuzz target 4, the edge side (docs/testing.md, "Fuzzing"): what a hostile or broken runner sends
// the reference controller over its session, through the same handler a WebSocket frame reaches
// (`messages.handleFrame`), with real jobs offered and leased: mutated accepts, rejects, releases,
// heartbeats, logs, steps and results, repeated and out-of-order sequence numbers, stale attempts,
// batches. Each case: nothing throws, a refusal names the field, the controller logs no bug; after
// the run it still offers, takes and finishes a job, and memory stays bounded.

import { afterAll, expect, test } from "bun:test";
import { FakeRunner, makeController, type Harness } from "../reference-controller/helpers.ts";
import { caseLabel, fuzzCases, fuzzSeed, fuzzTimeout, heapUsed, mutate, mutateText, namesAField, Rng } from "./fuzz-kit.ts";

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.controller.close();
});

test("fuzz: mutated runner messages reach the controller's session handler without harm", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x6);
  const h = makeController();
  harnesses.push(h);
  const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  const submit = async () => (await (await h.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo", input: { n: 1 } }) })).json()) as { id: string };
  for (let j = 0; j < 20; j++) await submit();
  await h.settle();
  const runner = FakeRunner.connect(h.controller, "r1");
  runner.send({ type: "credit", slots: 8 });
  await h.settle();

  const before = heapUsed();
  const cases = fuzzCases(3000);
  for (let i = 0; i < cases; i++) {
    // A job this runner holds (most of the time), its attempt, and a sequence number near the last.
    const offers = runner.of("offer");
    const held = offers.length > 0 ? rng.pick(offers).job : { id: "job_unknown", attempt: 1 };
    const jobId = rng.chance(0.9) ? held.id : "job_other";
    const attempt = rng.chance(0.9) ? held.attempt : held.attempt + rng.pick([-1, 1, 1000]);
    const seq = 1 + rng.int(6);
    const valid = rng.pick([
      { v: 1, type: "accept", jobId, attempt },
      { v: 1, type: "reject", jobId, attempt, error: { code: "busy", message: "no slot" } },
      { v: 1, type: "release", jobId, attempt },
      { v: 1, type: "heartbeat", leases: [{ jobId, attempt }] },
      { v: 1, type: "log", jobId, attempt, seq, lines: [{ ts: 1, level: "info", msg: "hello" }, { ts: 2, level: "warn", msg: "again" }] },
      { v: 1, type: "step", jobId, attempt, seq, step: { id: "build", name: "Build", status: "running", message: "going" } },
      { v: 1, type: "result", jobId, attempt, lastSeq: seq, status: rng.pick(["succeeded", "failed", "interrupted"]), output: { ok: true }, startedAt: 1, finishedAt: 2, error: { code: "plugin_error", message: "x" } },
      { v: 1, type: "credit", slots: 1 + rng.int(4), reset: rng.chance(0.2) },
      { v: 1, type: "error", error: { code: "malformed_frame", message: "bad" } },
    ]);
    const form = rng.int(10);
    const frame = form < 5 ? JSON.stringify(mutate(valid, rng)) : form < 7 ? mutateText(JSON.stringify(valid), rng) : form < 8 ? JSON.stringify([valid, mutate(valid, rng), valid]) : JSON.stringify(valid);
    const sentBefore = runner.sent.length;
    const logged = h.records.length;
    try {
      runner.raw(frame);
    } catch (error) {
      throw new Error(`${caseLabel(seed, i, frame)}: the handler threw ${String(error)}`);
    }
    if (i % 10 === 0) await h.settle();
    for (const m of runner.sent.slice(sentBefore)) {
      if (m.type === "error" && !/not valid JSON|nests deeper|a batch|a frame of/.test(m.error.message)) expect(namesAField(m.error.message), `${caseLabel(seed, i, frame)} → ${m.error.message}`).toBe(true);
    }
    for (const r of h.records.slice(logged)) expect(`${r.msg} ${JSON.stringify(r)}`, caseLabel(seed, i, frame)).not.toMatch(/\bbug\b|TypeError|is not a function|Cannot read prop/);
    // Keep jobs coming: new ones now and then, and credit so they are offered.
    if (i % 100 === 99) {
      await submit();
      runner.send({ type: "credit", slots: 4 });
    }
  }
  await h.settle();
  // Still working: the fuzzed runner gives its credit back, a new one gets a new job, runs it and
  // its result is taken.
  runner.send({ type: "credit", slots: 0, reset: true });
  await h.settle();
  const other = FakeRunner.connect(h.controller, "r2");
  const job = await submit();
  other.send({ type: "credit", slots: 100 });
  await h.settle();
  const offered = other.of("offer").find((o) => o.job.id === job.id);
  expect(offered, JSON.stringify(runner.of("offer").filter((o) => o.job.id === job.id))).toBeDefined();
  const { id, attempt } = offered!.job;
  other.send({ type: "accept", jobId: id, attempt });
  other.send({ type: "result", jobId: id, attempt, lastSeq: 0, status: "succeeded", output: { done: true }, startedAt: 1, finishedAt: 2 });
  await h.settle();
  expect(other.last("result_ack")).toMatchObject({ jobId: id, accepted: true });
  const health = await h.controller.app.request("/api/v1/health");
  expect(health.status).toBe(200);
  expect(heapUsed() - before).toBeLessThan(96 * 1024 * 1024);
}, fuzzTimeout());
