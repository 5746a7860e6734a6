// How meshStack runs are listed on the status page and /status (status/meshstack-section.ts from
// the adapter's activity): a run that ended FAILED in meshStack is listed FAILED, whether the
// runner failed it just now or its FAILED status waited in the outbox across a restart.

import { afterEach, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import { Redactor } from "../../src/log/redact.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { meshstackSection } from "../../src/status/meshstack-section.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { eventually } from "../helpers/harness.ts";
import { snapshotFixture } from "../status/fixtures.ts";
import { claimedRecord, cleanUp, dataDirOf, ended, runnerKeys, startAdapter, startFake, type Adapter } from "./adapter-bed.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

interface Listed {
  runUuid: string;
  workspace: string;
  type: string;
  status: string;
  message?: string;
}

/** The run as /status lists it, once its line to meshStack ended, and the page's row for it. */
async function listed(s: Adapter, uuid: string): Promise<{ json: Listed; row: string }> {
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: 0 }), redactor: new Redactor(), sections: [meshstackSection(() => s.connection.details())] });
  const json = await eventually(async () => ((await (await app.request("/status")).json()) as { meshstack: { recent: Listed[] } }).meshstack.recent.find((r) => r.runUuid === uuid), 10_000, "run listed");
  const page = await (await app.request("/")).text();
  const row = page.split("<tr>").find((r) => r.includes(uuid) && r.includes('data-label="Result"')) ?? "";
  return { json, row };
}

test("meshstackSection() lists a run whose plugin failed as FAILED, with its message, on /status and the page", async () => {
  const s = await startAdapter({ plugins: { MANUAL: { plugin: "echo", action: "fail" } } });
  const uuid = s.fake.addRun({ type: "MANUAL", workspace: "ws-failing", inputs: [{ key: "message", value: "the database is full", type: "STRING" }] });
  expect((await eventually(ended(s.fake, uuid), 10_000, "run ended")).status).toBe("FAILED");
  const { json, row } = await listed(s, uuid);
  expect(json).toMatchObject({ workspace: "ws-failing", type: "MANUAL", status: "FAILED", message: "the database is full" });
  expect(row).toContain('<span class="chip t-bad">FAILED</span>');
});

test("meshstackSection() lists a run whose FAILED final status waited in the outbox across a restart as FAILED, with its workspace and type", async () => {
  const fake = await startFake();
  const dataDir = dataDirOf();
  const cipher = new AtRestCipher(randomBytes(32), "meshStack outbox");
  const record = await claimedRecord(fake, "unused");
  const final = record.pending[1];
  if (final === undefined) throw new Error("claimedRecord() has no final status");
  final.body = { status: "FAILED", summary: "terraform apply failed", steps: [{ id: "manual", displayName: "Manual", status: "FAILED", userMessage: "terraform apply failed" }] };
  await new RunOutboxStore(dataDir, cipher).save(record);
  const s = await startAdapter({ fake, dataDir, cipher, runner: false });
  expect((await eventually(ended(fake, record.uuid), 10_000, "run ended")).status).toBe("FAILED");
  const { json, row } = await listed(s, record.uuid);
  expect(json).toMatchObject({ workspace: "ws-sealed", type: "MANUAL", status: "FAILED", message: "terraform apply failed" });
  expect(row).toContain('<span class="chip t-bad">FAILED</span>');
});

test("meshstackSection() lists a run the runner was running at a restart as FAILED, with its workspace and type", async () => {
  const fake = await startFake();
  const dataDir = dataDirOf();
  const cipher = new AtRestCipher(randomBytes(32), "meshStack outbox");
  const record = await claimedRecord(fake, "unused");
  record.phase = "running";
  record.pending = record.pending.slice(0, 1);
  await new RunOutboxStore(dataDir, cipher).save(record);
  const s = await startAdapter({ fake, dataDir, cipher, runner: false });
  expect((await eventually(ended(fake, record.uuid), 10_000, "run ended")).status).toBe("FAILED");
  const { json } = await listed(s, record.uuid);
  expect(json).toMatchObject({ workspace: "ws-sealed", type: "MANUAL", status: "FAILED" });
  expect(json.message).toContain("The runner restarted during the run");
});
