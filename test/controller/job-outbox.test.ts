import { expect, test } from "bun:test";
import { JobOutbox } from "../../src/controller/edge/job-outbox.ts";
import type { RunnerMessage } from "../../src/protocol/edge-v1.ts";

const offer = { id: "j1", attempt: 1, group: "g", plugin: "echo", action: "default", input: null, leaseExpiresAt: 1, submittedAt: 1 };

function outbox() {
  const sent: RunnerMessage[] = [];
  const done: JobOutbox[] = [];
  const job = new JobOutbox(offer, (m) => void sent.push(...m), (j) => done.push(j));
  return { job, sent, done };
}

test("JobOutbox numbers logs and steps with one sequence and keeps them until acked", () => {
  const { job, sent } = outbox();
  job.log([{ ts: 1, level: "info", msg: "a" }]);
  job.step({ id: "s", status: "running" });
  job.log([{ ts: 2, level: "info", msg: "b" }]);
  expect(sent.map((m) => (m as { seq: number }).seq)).toEqual([1, 2, 3]);
  job.acked(2);
  expect(job.pending().map((m) => (m as { seq: number }).seq)).toEqual([3]);
});

test("JobOutbox.pending() replays unacked events then the result, until the result is accepted", async () => {
  const { job, done } = outbox();
  job.log([{ ts: 1, level: "info", msg: "a" }]);
  const answer = job.complete({ status: "succeeded", output: 1, startedAt: 1, finishedAt: 2 });
  expect(job.pending().map((m) => m.type)).toEqual(["log", "result"]);
  expect((job.pending()[1] as { lastSeq: number }).lastSeq).toBe(1);
  expect(job.resultAnswered(false, "events_missing")).toBe("resend");
  expect(job.pending()).toHaveLength(2);
  expect(job.resultAnswered(true, undefined)).toBe("done");
  expect(await answer).toEqual({ accepted: true });
  expect(job.pending()).toHaveLength(0);
  expect(done).toEqual([job]);
});

test("JobOutbox.abort() with a lost lease stops reporting: complete() answers without sending", async () => {
  const { job, sent } = outbox();
  job.abort("lease_lost: stale_attempt", true);
  expect(job.signal.aborted).toBe(true);
  expect(job.holdsLease).toBe(false);
  const answer = await job.complete({ status: "cancelled", startedAt: 1, finishedAt: 2 });
  expect(answer.accepted).toBe(false);
  expect(sent.some((m) => m.type === "result")).toBe(false);
});

test("JobOutbox.abort() for a controller cancel keeps the lease and still reports", async () => {
  const { job, sent } = outbox();
  job.abort("cancelled by controller", false);
  expect(job.holdsLease).toBe(true);
  void job.complete({ status: "cancelled", startedAt: 1, finishedAt: 2 });
  expect(sent.at(-1)?.type).toBe("result");
});

test("JobOutbox.resendOverdue() sends the unanswered result again after a whole heartbeat interval, until it is answered", () => {
  const { job } = outbox();
  expect(job.resendOverdue()).toEqual([]);
  job.log([{ ts: 1, level: "info", msg: "a" }]);
  void job.complete({ status: "succeeded", output: 1, startedAt: 1, finishedAt: 2 });
  // The first heartbeat may come right after the result was sent: not overdue yet.
  expect(job.resendOverdue()).toEqual([]);
  expect(job.resendOverdue().map((m) => m.type)).toEqual(["log", "result"]);
  expect(job.resendOverdue()).toEqual([]);
  // A replay (new session, events_missing) counts as sending it again.
  job.pending();
  expect(job.resendOverdue()).toEqual([]);
  expect(job.resendOverdue().map((m) => m.type)).toEqual(["log", "result"]);
  job.resultAnswered(true, undefined);
  job.resendOverdue();
  expect(job.resendOverdue()).toEqual([]);
});

test("JobOutbox.release() with no session waits for the next one, and its lease is no longer heartbeated", () => {
  let connected = false;
  const sent: RunnerMessage[] = [];
  const done: JobOutbox[] = [];
  const job = new JobOutbox(offer, (m) => connected && sent.push(...m) > 0, (j) => done.push(j));
  job.release();
  expect(job.holdsLease).toBe(false);
  expect(done).toEqual([]);
  // The new session gets it first thing, with the heartbeat whose answer confirms it.
  connected = true;
  const probe: RunnerMessage = { v: 1, type: "heartbeat", leases: [{ jobId: "j1", attempt: 1 }] };
  expect(job.pending()).toEqual([{ v: 1, type: "release", jobId: "j1", attempt: 1 }, probe]);
  job.replayed();
  // Handed to a session is not done (until 2026-12-02 it was: a session that died with it lost it).
  expect(done).toEqual([]);
  job.releaseAnswered(true);
  expect(done).toEqual([]);
  job.releaseAnswered(false);
  expect(done).toEqual([job]);
  const live = new JobOutbox(offer, (m) => sent.push(...m) > 0, (j) => done.push(j));
  live.release();
  expect(sent).toEqual([{ v: 1, type: "release", jobId: "j1", attempt: 1 }, probe]);
  live.releaseAnswered(false);
  expect(done).toEqual([job, live]);
});

test("JobOutbox.release() waiting for a session goes as a reject when that session's controller does not take jobs back", () => {
  let connected = false;
  const sent: RunnerMessage[] = [];
  const done: JobOutbox[] = [];
  const job = new JobOutbox(offer, (m) => connected && sent.push(...m) > 0, (j) => done.push(j));
  job.release();
  connected = true;
  // It would ignore a release: the job would wait for its lease to expire. A reject re-queues it at once.
  expect(job.pending(false)).toEqual([{ v: 1, type: "reject", jobId: "j1", attempt: 1, error: { code: "runner_draining", message: expect.stringContaining("release") } }]);
  job.replayed();
  expect(done).toEqual([job]);
});

test("JobOutbox: events_missing for events it no longer holds (acked already) waits for the overdue resend instead of resending at once, which looped as fast as the connection went", () => {
  const { job } = outbox();
  job.log([{ ts: 1, level: "info", msg: "Request" }]);
  job.acked(1);
  job.log([{ ts: 2, level: "info", msg: "Response" }]);
  void job.complete({ status: "succeeded", startedAt: 1, finishedAt: 2 });
  // A replica whose view is behind asks for seq 1, which the replica before it acknowledged.
  expect(job.resultAnswered(false, "events_missing", 1)).toBe("wait");
  expect(job.done).toBe(false);
  expect(job.resendOverdue()).toEqual([]);
  expect(job.resendOverdue().map((m) => m.type)).toEqual(["log", "result"]);
  // What it still holds is resent at once, as is everything when the controller names no seq.
  expect(job.resultAnswered(false, "events_missing", 2)).toBe("resend");
  expect(job.resultAnswered(false, "events_missing", undefined)).toBe("resend");
  job.acked(2);
  expect(job.resultAnswered(false, "events_missing", 2)).toBe("wait");
});
