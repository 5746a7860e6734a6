// meshStack's reason for refusing a run's final status may echo a value of the run: a secret input
// it sent encrypted, a sensitive output the runner sent it. The runner quotes that reason in the
// minimal final status it sends back, its log, the outbox and the status page: masked with the
// run's secrets while it holds them all, left out (only the status code) when it does not (a run
// resumed after a restart). Nothing of either value leaves the runner, in any encoding.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import { REASON_LEFT_OUT } from "../../src/controller/meshstack/run-channel.ts";
import { redactor } from "../../src/log/redact.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { secretForms } from "../../src/secrets/redaction/secret-forms.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { meshstackSection } from "../../src/status/meshstack-section.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { eventually } from "../helpers/harness.ts";
import { snapshotFixture } from "../status/fixtures.ts";
import { claimedRecord, cleanUp, dataDirOf, ended, runnerKeys, startAdapter, startFake, type Adapter } from "./adapter-bed.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A plugin (a bundle, as a data: URL) that sets one sensitive output and prints nothing. */
function sensitiveOutputPlugin(value: string) {
  const code = `export default { name: "sensout", version: "1.0.0", actions: { default(input, ctx) { ctx.outputs.set("dbPassword", ${JSON.stringify(value)}, { sensitive: true }); return { done: true }; } } };`;
  const source = { kind: "bundle", url: `data:text/javascript;base64,${b64(code)}`, id: "test:sensout", name: "sensout", version: "1.0.0" } as const;
  return () => source;
}

/** meshStack's 400, quoting what it was sent: both values, in clear and in base64. */
const echoing = (secretInput: string, sensitive: string) => `Output "dbPassword" value ${sensitive} (${b64(sensitive)}) does not fit input apiPassword=${secretInput} (${b64(secretInput)})`;

/** What /status and the status page show, with the runner's own redactor (as the runner serves them). */
async function statusPages(s: Adapter): Promise<string> {
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: 0 }), redactor, sections: [meshstackSection(() => s.connection.details())] });
  return `${await (await app.request("/status")).text()}\n${await (await app.request("/")).text()}`;
}

/**
 * Every outbox file on disk, raw (sealed), and every record written with the minimal final status
 * (as it was before sealing). The full final status before it holds the sensitive output, as it
 * must to send it: only meshStack's refusal must not bring it (or a secret input) back in.
 */
function outboxText(s: Adapter): string {
  const dir = RunOutboxStore.dirOf(s.dataDir);
  const minimal = s.outboxWrites.filter((w) => w.includes('"minimal":true'));
  expect(minimal.length).toBeGreaterThan(0);
  let text = minimal.join("\n");
  for (const name of readdirSync(dir)) text += `\n${readFileSync(join(dir, name), "latin1")}`;
  return text;
}

/** Each of `secrets` in none of its forms (plain, base64 and base64url at any alignment, hex, URL, JSON). */
function expectNone(where: string, text: string, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets)) {
    expect({ where, name, found: secretForms(secret).filter((form) => text.includes(form)) }).toEqual({ where, name, found: [] });
  }
}

describe("meshStack's reason for refusing a final status", () => {
  test("run-channel quotes it masked: a secret input and a sensitive output it echoes (and their base64) reach neither meshStack, the log, the outbox nor /status", async () => {
    const secretInput = `cnry-in-${randomBytes(6).toString("hex")}`;
    const sensitive = `cnry-out-${randomBytes(6).toString("hex")}`;
    const s = await startAdapter({ plugins: { TERRAFORM: { plugin: "sensout", action: "default" } }, resolve: sensitiveOutputPlugin(sensitive), logLevel: "debug" });
    const uuid = s.fake.addRun({
      type: "TERRAFORM",
      implementation: { repositoryUrl: "https://git.example.com/m.git" },
      inputs: [{ key: "apiPassword", value: secretInput, type: "STRING", isSensitive: true }],
    });
    s.fake.refuseFinalStatus(uuid, echoing(secretInput, sensitive));
    const run = await eventually(ended(s.fake, uuid), 15_000, "run ended");
    const listed = await eventually(() => s.connection.details().recent.find((r) => r.runUuid === uuid), 5000, "line ended");
    await eventually(() => (s.runner?.runningCount === 0 && s.logs.some((r) => r.msg.startsWith("Result of job not recorded")) ? true : undefined), 5000, "the runner logged the result's answer");

    // The full status was refused once (it carried the sensitive output, as it should); the minimal one was taken.
    expect(s.fake.refusals.map((r) => r.status)).toEqual([400]);
    expect(run.status).toBe("FAILED");
    // meshStack's reason is still quoted, with the values masked.
    expect(run.summary).toContain('HTTP 400: Output "dbPassword" value [REDACTED]');
    expect(listed).toMatchObject({ status: "FAILED" });
    const secrets = { secretInput, sensitive, secretInputB64: b64(secretInput), sensitiveB64: b64(sensitive) };
    expectNone("sent", JSON.stringify(run.updates), secrets);
    expectNone("log", JSON.stringify(s.logs), secrets);
    expectNone("outbox", outboxText(s), secrets);
    expectNone("status", await statusPages(s), secrets);
  }, 30_000);

  test("after a restart the runner no longer holds the run's secret inputs: meshStack's reason is left out, only its status code quoted", async () => {
    const fake = await startFake();
    const dataDir = dataDirOf();
    const cipher = new AtRestCipher(randomBytes(32), "meshStack outbox");
    const secretInput = `cnry-in-${randomBytes(6).toString("hex")}`;
    const sensitive = `cnry-out-${randomBytes(6).toString("hex")}`;
    // A final status with a sensitive output, left in the outbox by a previous process.
    const record = await claimedRecord(fake, "Run succeeded");
    const final = record.pending[1] as { body: Record<string, unknown> };
    final.body.steps = [{ id: "manual", status: "SUCCEEDED", outputs: { dbPassword: { value: sensitive, type: "STRING", isSensitive: true } } }];
    await new RunOutboxStore(dataDir, cipher).save(record);
    fake.refuseFinalStatus(record.uuid, echoing(secretInput, sensitive));

    const s = await startAdapter({ fake, dataDir, cipher, runner: false, logLevel: "debug" });
    const run = await eventually(ended(fake, record.uuid), 15_000, "run ended");
    await eventually(() => s.connection.details().recent.find((r) => r.runUuid === record.uuid), 5000, "line ended");
    expect(fake.refusals.map((r) => r.status)).toEqual([400]);
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain(`HTTP 400 (${REASON_LEFT_OUT})`);
    const secrets = { secretInput, sensitive, secretInputB64: b64(secretInput), sensitiveB64: b64(sensitive) };
    expectNone("sent", JSON.stringify(run.updates), secrets);
    expectNone("log", JSON.stringify(s.logs), secrets);
    expectNone("outbox", outboxText(s), secrets);
    expectNone("status", await statusPages(s), secrets);
  }, 30_000);
});
