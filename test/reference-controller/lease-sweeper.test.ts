import { afterEach, expect, test } from "bun:test";
import { LeaseSweeper } from "../../src/reference-controller/lease-sweeper.ts";
import { FakeClock, FakeRunner, ManualTimer, makeController, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

test("LeaseSweeper sleeps until the next expiry (capped) and keeps going after an error", () => {
  const clock = new FakeClock();
  const timer = new ManualTimer();
  const delays = timer.delays;
  let next: number | undefined = clock.t + 250;
  let ticks = 0;
  const errors: unknown[] = [];
  const sweeper = new LeaseSweeper({
    clock, timer, intervalMs: 1000, nextExpiry: () => next,
    onTick: () => { ticks++; if (ticks === 1) throw new Error("disk full"); },
    onError: (e) => errors.push(e),
  });
  sweeper.start();
  expect(delays).toEqual([251]);
  next = undefined;
  timer.fireAll();
  expect(ticks).toBe(1);
  expect(errors).toHaveLength(1);
  expect(delays).toEqual([251, 1000]);
  timer.fireAll();
  expect(ticks).toBe(2);
  sweeper.stop();
  expect(timer.pending.size).toBe(0);
});

test("ReferenceController with autoSweep expires a lease when its timer fires, without waiting", () => {
  const timer = new ManualTimer();
  h = makeController({ autoSweep: true, timer });
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  h.clock.advance(30_000);
  timer.fireAll();
  expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", error: { code: "lease_expired" } });
});
