// meshStack may hand out a run this runner already works on (a claim race on its side, a claim
// retried there): the run is not started a second time, the first one carries on and reports once.

import { afterEach, expect, test } from "bun:test";
import { runDoc, sleep, sleepInput, startScripted, until } from "./scripted-meshstack.ts";

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

test("MeshstackConnection: a claim that returns a run already running here does not start it again: one register, one final status, a warning", async () => {
  const doc = () => Response.json(runDoc("r-dup", { inputs: [sleepInput(800)] }), { status: 201 });
  const h = await startScripted({ claims: [doc, doc] }, { plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, concurrency: 4 });
  stop = h.stop;
  await until(() => h.calls.filter((c) => c.method === "PATCH" && c.body?.includes('"SUCCEEDED"')).length >= 1, 6000);
  await sleep(1200);
  const registers = h.calls.filter((c) => c.method === "POST" && c.url.endsWith("/status/source"));
  const finals = h.calls.filter((c) => c.method === "PATCH" && c.body?.includes('"SUCCEEDED"'));
  expect(registers.length).toBe(1);
  expect(finals.length).toBe(1);
  expect(h.records.some((r) => r.level === "warn" && r.msg.includes('"r-dup"') && r.msg.includes("already"))).toBe(true);
  expect(h.connection.details().recent.map((r) => `${r.runUuid} ${r.status}`)).toEqual(["r-dup SUCCEEDED"]);
}, 20_000);

test("MeshstackConnection: a run handed out again and again is not claimed in a tight loop: the next claim waits a poll interval", async () => {
  const doc = () => Response.json(runDoc("r-loop", { inputs: [sleepInput(1500)] }), { status: 201 });
  const h = await startScripted({ claims: Array.from({ length: 500 }, () => doc) }, { plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, concurrency: 4, pollIntervalMs: 100 });
  stop = h.stop;
  await until(() => h.calls.some((c) => c.method === "POST" && c.url.endsWith("/status/source")), 5000);
  await sleep(1000);
  const claims = h.calls.filter((c) => c.url.includes("/create?forRunnerUuid=")).length;
  // About one a poll interval (100 ms ± 20 %), not hundreds.
  expect(claims).toBeLessThan(20);
  expect(h.calls.filter((c) => c.method === "POST" && c.url.endsWith("/status/source")).length).toBe(1);
}, 20_000);
