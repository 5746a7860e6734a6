// Messages that arrive together (a batch frame or a long-poll send) are handled in order, and
// their cumulative acks go out once per job attempt.
import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { message } from "../../src/protocol/edge-v1.ts";
import { FakeRunner, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

forEachStore("batched runner messages", (store) => {
  test("RunnerMessages.handleBatch() stores events in order and answers one ack per job attempt", async () => {
    h = await openController(store);
    const runner = FakeRunner.connect(h.controller, "r1");
    const job = h.controller.submitJob({ plugin: "echo" });
    runner.send({ type: "credit", slots: 1 });
    await h.settle();
    const { attempt } = runner.last("offer").job;
    await h.settle();
    const log = (seq: number) => message({ type: "log", jobId: job.id, attempt, seq, lines: [{ ts: seq, level: "info", msg: `line ${seq}` }] });
    h.controller.messages.handleBatch(runner.session, [log(1), log(2), log(3)]);
    await h.settle();
    expect(runner.of("ack").map((a) => a.seq)).toEqual([3]);
    expect((await h.controller.core.logs.read(job.id, 0, 10)).map((e) => e.attemptSeq)).toEqual([1, 2, 3]);
    h.controller.messages.handleFrame(runner.session, JSON.stringify([log(3), log(4)]));
    await h.settle();
    expect(runner.of("ack").map((a) => a.seq)).toEqual([3, 4]);
  });
});
