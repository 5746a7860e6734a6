// One run's durable line to meshStack against the fake: register 409 counts as done, updates
// queued during an outage merge instead of piling up and arrive in order, a 403 on the run token
// ends the line loudly, and an abort drops what is pending.

import { afterEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { RunOutboxStore, type RunRecord } from "../../src/controller/meshstack/outbox.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { REASON_LEFT_OUT, RunChannel } from "../../src/controller/meshstack/run-channel.ts";
import { RunReport } from "../../src/controller/meshstack/final-status.ts";
import { MeshstackRunHandle } from "../../src/controller/meshstack/run-handle.ts";
import { redactor } from "../../src/log/redact.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { realTimers } from "../../src/util/time.ts";
import { eventually, tempDir } from "../helpers/harness.ts";
import { FakeMeshstack } from "./fake-meshstack.ts";

const publicKeyPem = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }) as string;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `secretsComplete`: the run's scope holds all its secrets (a run claimed by this process), so meshStack's reasons are quoted masked. */
async function line(fake: FakeMeshstack, uuid: string, options: { secretsComplete?: boolean } = {}) {
  const t = tempDir("channel-");
  cleanups.push(t.remove);
  const store = new RunOutboxStore(t.dir, new AtRestCipher(randomBytes(32), "meshStack outbox"));
  const { logger, records } = memoryLogger("debug");
  const client = new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "c", clientSecret: "s" }, runnerName: "edge-runner", runnerVersion: "t", nodeId: "n", requestTimeoutMs: 2000 });
  // The run must be claimed in the fake for its routes to answer.
  await client.claim(fake.runnerUuid);
  const run = fake.run(uuid);
  const base = `${fake.url}/api/meshobjects/meshbuildingblockruns/${uuid}/status/source`;
  const record: RunRecord = { uuid, runToken: run.runToken, registerUrl: base, updateUrl: `${base}/${fake.runnerUuid}`, claimedAt: Date.now(), phase: "running", workspace: "ws", implementationType: "MANUAL", nextSeq: 1, pending: [] };
  const scope = redactor.child(`test run ${uuid}`);
  cleanups.push(() => scope.dispose());
  const channel = new RunChannel(record, { client, store, logger, redaction: scope, timers: realTimers, retryMinMs: 20, retryMaxMs: 100, recovered: () => new AbortController().signal });
  if (options.secretsComplete !== false) channel.secretsComplete();
  cleanups.push(() => channel.stop());
  return { channel, store, records, scope };
}

async function fake(): Promise<FakeMeshstack> {
  const f = await new FakeMeshstack({ clientId: "c", clientSecret: "s", publicKeyPem }).start();
  cleanups.push(() => f.stop());
  return f;
}

describe("RunChannel", () => {
  test("a register answered 409 (already registered) counts as done; the final update ends the line and removes its file", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel, store } = await line(f, uuid);
    f.run(uuid).registeredAt = Date.now(); // registered before a restart
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [] });
    await channel.enqueue("patch", { status: "SUCCEEDED", steps: [] }, { final: true, phase: "ending" });
    expect(await channel.ended).toEqual({ kind: "acknowledged", reported: { status: "SUCCEEDED" } });
    expect(f.run(uuid).status).toBe("SUCCEEDED");
    expect(readdirSync(store.dir)).toEqual([]);
  });

  test("during an outage updates merge into one; after it they arrive in order, the final one last", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel } = await line(f, uuid);
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [{ id: "manual", displayName: "Manual", status: "PENDING" }] });
    await eventually(() => (f.run(uuid).registeredAt !== undefined ? true : undefined), 5000, "registered");
    f.outage = true;
    await channel.enqueue("patch", { status: "IN_PROGRESS", steps: [{ id: "manual", status: "IN_PROGRESS", userMessage: "one" }] });
    await eventually(() => (f.outageAnswers > 0 ? true : undefined), 5000, "a refused attempt");
    for (let i = 0; i < 50; i++) await channel.enqueue("patch", { status: "IN_PROGRESS", steps: [{ id: "manual", userMessage: `message ${i}` }] });
    await channel.enqueue("patch", { status: "SUCCEEDED", summary: "done", steps: [{ id: "manual", status: "SUCCEEDED" }] }, { final: true });
    expect(channel.pendingCount).toBeLessThanOrEqual(3);
    f.outage = false;
    expect(await channel.ended).toEqual({ kind: "acknowledged", reported: { status: "SUCCEEDED", summary: "done" } });
    const run = f.run(uuid);
    expect(run.updates.length).toBeLessThanOrEqual(3);
    expect(run.updates.at(-1)?.body.status).toBe("SUCCEEDED");
    expect(run.steps.get("manual")).toMatchObject({ status: "SUCCEEDED", userMessage: "message 49" });
  });

  test("a 403 on the run token ends the line as refused, with an error log, instead of retrying forever", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel, records } = await line(f, uuid);
    channel.record.runToken = "not-the-run-token";
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [] });
    const end = await channel.ended;
    expect(end.kind).toBe("refused");
    expect(records.some((r) => r.level === "error" && r.msg.includes("HTTP 403"))).toBe(true);
  });

  test("a final status refused with 400 goes once in its minimal form; refused again, the line ends as refused instead of resending it", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel, records } = await line(f, uuid);
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [{ id: "manual", displayName: "Manual", status: "PENDING" }, { id: "extra", displayName: "Extra", status: "PENDING" }] });
    // "DONE" is no step status meshStack knows: the minimal form keeps the second step's status, so it is refused too.
    await channel.enqueue("patch", { status: "SUCCEEDED", summary: "ok", steps: [{ id: "manual", status: "SUCCEEDED" }, { id: "extra", status: "DONE" }] }, { final: true });
    const end = await channel.ended;
    expect(end.kind).toBe("refused");
    expect(f.refusals.map((r) => r.status)).toEqual([400, 400]);
    expect(f.run(uuid).status).toBe("IN_PROGRESS");
    const errors = records.filter((r) => r.level === "error").map((r) => r.msg);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain("sending it once more without outputs, as FAILED");
    expect(errors[1]).toContain("refused the minimal final status");
    f.violations.length = 0;
  });

  test("meshStack's reason is masked before it is cut to 200 characters: a secret it echoes across the cut leaves no start of itself in the minimal status", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel, scope } = await line(f, uuid);
    const secret = `cnry-cut-${randomBytes(12).toString("hex")}`;
    scope.add(secret);
    f.refuseFinalStatus(uuid, `${"m".repeat(190)} ${secret}`);
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [{ id: "manual", displayName: "Manual", status: "PENDING" }] });
    await channel.enqueue("patch", { status: "SUCCEEDED", summary: "ok", steps: [{ id: "manual", status: "SUCCEEDED" }] }, { final: true, mainStep: "manual" });
    expect(await channel.ended).toMatchObject({ kind: "acknowledged", minimal: true });
    const summary = f.run(uuid).summary ?? "";
    expect(summary).toContain(`HTTP 400: ${"m".repeat(190)} …`);
    expect(summary).not.toContain("cnry");
  });

  test("a line whose run's secrets are not all known (resumed after a restart) quotes only the status of a refusal, never meshStack's text", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel, records } = await line(f, uuid, { secretsComplete: false });
    f.refuseFinalStatus(uuid, "Output value hunter2-not-masked is refused");
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [{ id: "manual", displayName: "Manual", status: "PENDING" }] });
    await channel.enqueue("patch", { status: "SUCCEEDED", summary: "ok", steps: [{ id: "manual", status: "SUCCEEDED" }] }, { final: true, mainStep: "manual" });
    expect(await channel.ended).toMatchObject({ kind: "acknowledged", minimal: true, reported: { status: "FAILED", summary: expect.stringContaining(`HTTP 400 (${REASON_LEFT_OUT})`) } });
    expect(JSON.stringify(f.run(uuid).updates)).not.toContain("hunter2");
    expect(JSON.stringify(records)).not.toContain("hunter2");
  });

  test("MeshstackRunHandle.complete() on a run meshStack refused gives the refusal as the reason, not an abort", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel } = await line(f, uuid);
    const scope = redactor.child(`test run ${uuid}`);
    cleanups.push(() => scope.dispose());
    const handle = new MeshstackRunHandle({
      job: { id: uuid, attempt: 1, group: "meshstack", plugin: "manual", action: "apply", input: {}, leaseExpiresAt: 0, submittedAt: 0 },
      channel,
      report: new RunReport({ runUuid: uuid, implementationType: "MANUAL", behavior: "APPLY", async: false, mainStep: { id: "manual", displayName: "Manual" }, inputs: [] }),
      redaction: scope,
      timers: realTimers,
      statusIntervalMs: 60_000,
      logIntervalMs: 60_000,
    });
    f.gone(uuid, 410);
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [{ id: "manual", displayName: "Manual", status: "PENDING" }] });
    await channel.ended;
    await eventually(() => (handle.signal.aborted ? true : undefined), 5000, "job cancelled");
    expect(await handle.complete({ status: "cancelled", startedAt: 0, finishedAt: 0 })).toEqual({ accepted: false, reason: expect.stringContaining("HTTP 410") });
  });

  test("an answer with runAborted ends the line as aborted and drops what was pending", async () => {
    const f = await fake();
    const uuid = f.addRun({ type: "MANUAL" });
    const { channel } = await line(f, uuid);
    await channel.enqueue("register", { source: { id: f.runnerUuid }, steps: [] });
    f.abort(uuid);
    await channel.enqueue("patch", { status: "IN_PROGRESS", steps: [] });
    expect(await channel.ended).toEqual({ kind: "aborted" });
    await channel.enqueue("patch", { status: "SUCCEEDED", steps: [] }, { final: true });
    expect(channel.pendingCount).toBe(0);
    expect(f.run(uuid).refusedUpdates).toBe(1);
  });
});
