// Issue 8 item 4: the controller's event journal has a quota. A log flood used to grow it
// without bound; now each job stores at most `jobLogMaxBytes` of events (then one visible
// truncation marker, then events without content, so seqs and acks stay true) and the journal
// as a whole at most `eventJournalMaxBytes`.

import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, leaseOne, openController, type Harness } from "../reference-controller/helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

const lines = (n: number, size: number) => Array.from({ length: n }, (_, i) => ({ ts: i, level: "info" as const, msg: "f".repeat(size) }));

forEachStore("job log quotas", (store) => {
  test("a job's log past jobLogMaxBytes is cut with a visible marker; later events are acked but store nothing", async () => {
    h = await openController(store, { jobLogMaxBytes: 64 * 1024 });
    const { r, job } = await leaseOne(h);
    for (let seq = 1; seq <= 200; seq++) r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines: lines(10, 1000) });
    await h.settle();
    expect(r.last("ack").seq).toBe(200);
    const events = (await h.controller.core.logs.read(job.id, 0, 1000));
    expect(events).toHaveLength(200);
    const marker = events.findIndex((e) => e.type === "log" && e.lines[0]?.msg.includes("Log truncated"));
    expect(marker).toBeGreaterThan(0);
    expect(events.slice(marker + 1).every((e) => e.type === "log" && e.lines.length === 0)).toBe(true);
    expect(h.controller.core.logs.totalBytes).toBeLessThan(64 * 1024 + 40 * 1024);
    // The result still lands: the runner's lastSeq is what the controller holds.
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 200, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(r.last("result_ack").accepted).toBe(true);
  });

  test("the whole event journal keeps no content past eventJournalMaxBytes, each job marked once", async () => {
    h = await openController(store, { eventJournalMaxBytes: 128 * 1024 });
    const r = FakeRunner.connect(h.controller, "r1");
    r.send({ type: "credit", slots: 10 });
    await h.settle();
    const jobs = Array.from({ length: 4 }, () => h!.controller.submitJob({ plugin: "echo" }));
    await h.settle();
    for (let seq = 1; seq <= 60; seq++) for (const job of jobs) r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines: lines(2, 1000) });
    await h.settle();
    // Past the quota an event keeps only its place (about 150 bytes instead of its content).
    const bound = 128 * 1024 + 4 * 60 * 200;
    expect(h.controller.core.logs.totalBytes).toBeLessThan(bound);
    for (const job of jobs) {
      const markers = (await h.controller.core.logs.read(job.id, 0, 100)).filter((e) => e.type === "log" && e.lines.some((l) => l.msg.includes("Log truncated")));
      expect(markers).toHaveLength(1);
    }
    // The quota survives a restart (the index is rebuilt from the segments).
    h = await h.reopen();
    expect(h.controller.core.logs.totalBytes).toBeLessThan(bound);
  });
});
