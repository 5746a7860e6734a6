// The meshStack adapter in process, against the fake meshStack over loopback: a Runner with the
// real plugin pool and a MeshstackConnection. The compiled-binary tests (meshstack-e2e.test.ts)
// repeat the important cases as a user runs them.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readdirSync } from "node:fs";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import { eventually } from "../helpers/harness.ts";
import { cleanUp, ended, runnerKeys, startAdapter } from "./adapter-bed.ts";

let otherPublicPem: string;
beforeAll(() => {
  runnerKeys();
  otherPublicPem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }) as string;
});
afterEach(cleanUp);

/** Every test here runs a Runner beside the connection. */
const setup = async (options: Parameters<typeof startAdapter>[0] = {}) => {
  const s = await startAdapter(options);
  return { ...s, runner: s.runner as NonNullable<typeof s.runner> };
};

describe("meshStack adapter", () => {
  test("a MANUAL run is claimed, registered and SUCCEEDED with the inputs copied back as outputs", async () => {
    const s = await setup();
    const uuid = s.fake.addRun({
      type: "MANUAL",
      inputs: [
        { key: "name", value: "hello", type: "STRING" },
        { key: "size", value: 3, type: "INTEGER" },
        { key: "password", value: "pa55word-secret", type: "STRING", isSensitive: true },
      ],
    });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.source?.id).toBe(s.fake.runnerUuid);
    const step = run.steps.get("manual");
    expect(step?.status).toBe("SUCCEEDED");
    expect(step?.outputs?.name).toEqual({ value: "hello", type: "STRING", isSensitive: false });
    expect(step?.outputs?.size).toEqual({ value: 3, type: "INTEGER", isSensitive: false });
    // Sensitive inputs go back as meshStack sent them (encrypted), as meshcloud's manual runner does.
    expect(step?.outputs?.password?.isSensitive).toBe(true);
    expect(String(step?.outputs?.password?.value)).not.toContain("pa55word-secret");
    expect(s.fake.violations).toEqual([]);
    // Nothing is left in the outbox once meshStack acknowledged the final status.
    await eventually(() => (readdirSync(RunOutboxStore.dirOf(s.dataDir)).length === 0 ? true : undefined), 5000, "outbox empty");
  });

  test("outputs go out as meshStack takes them: a list copied back by MANUAL is CODE text, an integer sent as text an INTEGER, a fraction a STRING", async () => {
    const s = await setup();
    const manual = s.fake.addRun({
      type: "MANUAL",
      inputs: [
        { key: "regions", value: ["eu", "us"], type: "LIST" },
        { key: "tags", value: ["a"], type: "MULTI_SELECT" },
        { key: "count", value: "5", type: "INTEGER" },
        { key: "on", value: "true", type: "BOOLEAN" },
      ],
    });
    const run = await eventually(ended(s.fake, manual), 10_000, "MANUAL run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.steps.get("manual")?.outputs).toEqual({
      regions: { value: '["eu","us"]', type: "CODE", isSensitive: false },
      tags: { value: '["a"]', type: "CODE", isSensitive: false },
      count: { value: 5, type: "INTEGER", isSensitive: false },
      on: { value: true, type: "BOOLEAN", isSensitive: false },
    });
    expect(s.fake.refusals).toEqual([]);
  });

  test("a run whose inputs were encrypted to another key fails at once (before any status interval or timeout) saying the key pair does not match", async () => {
    // The "fails within 1 s", measured on one clock (the fake's) against the runner's own
    // intervals: about 50 ms on an idle machine, but a loaded one can stall a process for over a
    // second. So everything a late failure could wait for (the status interval, a request timeout,
    // the job timeout) is at least 30 s away, and the run must fail long before: its FAILED final
    // status is its only update (it never ran: no status tick).
    const late = 30_000;
    const s = await setup({ statusIntervalMs: 2 * late, requestTimeoutMs: 2 * late });
    const { meshstackEncrypt } = await import("./meshstack-encrypt.ts");
    const uuid = s.fake.addRun({ type: "MANUAL", rawInputs: [{ key: "password", type: "STRING", isSensitive: true, value: meshstackEncrypt(otherPublicPem, "x-secret") }] });
    const run = await eventually(ended(s.fake, uuid), late / 2, "run ended");
    expect(run.status).toBe("FAILED");
    expect(run.updates.map((u) => u.body.status)).toEqual(["FAILED"]);
    expect((run.finishedAt ?? Infinity) - (run.claimedAt ?? 0)).toBeLessThan(late / 3);
    expect(run.summary).toContain('Cannot decrypt meshStack input "password"');
    expect(run.summary).toContain("key pair does not match");
    expect(run.summary).toContain("--runner-key-file");
    expect(s.fake.violations).toEqual([]);
  }, 60_000);

  test("runAborted stops the run at once and nothing more is sent", async () => {
    const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, statusIntervalMs: 100 });
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 20_000, type: "INTEGER" }] });
    await eventually(() => (s.fake.run(uuid).registeredAt !== undefined && s.runner.runningCount === 1 ? true : undefined), 10_000, "run started");
    s.fake.abort(uuid);
    await eventually(() => (s.runner.runningCount === 0 ? true : undefined), 5000, "plugin cancelled");
    const refusedAtEnd = s.fake.run(uuid).refusedUpdates;
    expect(refusedAtEnd).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.fake.run(uuid).refusedUpdates).toBe(refusedAtEnd);
    expect(s.fake.run(uuid).status).toBe("ABORTED");
  });

  test("claims only while a slot is free, and runs `concurrency` runs at once (local prefetch does not apply: a claimed run cannot be given back)", async () => {
    const s = await setup({ concurrency: 3, prefetch: 16, plugins: { MANUAL: { plugin: "echo", action: "sleep" } } });
    expect(s.runner.snapshot().prefetch).toBe(0);
    s.fake.claimProbe = () => s.runner.runningCount;
    const uuids = Array.from({ length: 6 }, () => s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 800, type: "INTEGER" }] }));
    await eventually(() => (s.runner.runningCount === 3 ? true : undefined), 10_000, "three running");
    for (const uuid of uuids) await eventually(ended(s.fake, uuid), 15_000, "run ended");
    expect(uuids.map((u) => s.fake.run(u).status)).toEqual(Array(6).fill("SUCCEEDED"));
    // The runner's own count: a claim only goes out while fewer than 3 runs run.
    expect(s.fake.claims.length).toBeGreaterThan(6);
    expect(s.fake.claims.filter((c) => (c.probe ?? 0) >= 3)).toEqual([]);
  });

  test("a 5xx outage delays the final status, which arrives once meshStack is back; claims wait", async () => {
    const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "sleep" } } });
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 300, type: "INTEGER" }] });
    await eventually(() => (s.fake.run(uuid).registeredAt !== undefined ? true : undefined), 10_000, "registered");
    s.fake.outage = true;
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.fake.run(uuid).status).toBe("IN_PROGRESS");
    s.fake.outage = false;
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(s.fake.outageAnswers).toBeGreaterThan(0);
  });

  test("an expired API token is renewed by logging in again", async () => {
    const s = await setup();
    await eventually(() => (s.fake.claims.length > 0 ? true : undefined), 5000, "first claim");
    expect(s.fake.logins).toBe(1);
    s.fake.expireTokens();
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [] });
    await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(s.fake.logins).toBe(2);
  });

  test("an async run hands off: the trigger step succeeds, the run stays IN_PROGRESS, the plugin got the run token, nothing is left to send", async () => {
    const s = await setup({ plugins: { GITHUB_WORKFLOW: { plugin: "echo", action: "default" } } });
    const uuid = s.fake.addRun({ type: "GITHUB_WORKFLOW", implementation: { owner: "o", repository: "r", appId: "1", appPem: "-----BEGIN RSA PRIVATE KEY-----fake", async: true, applyWorkflow: "apply.yml" }, encryptFields: ["appPem"] });
    await eventually(() => (s.fake.run(uuid).steps.get("github-workflow")?.status === "SUCCEEDED" ? true : undefined), 10_000, "trigger step succeeded");
    await eventually(() => (s.connection.details().recent[0]?.status === "HANDED_OFF" ? true : undefined), 5000, "handed off");
    const run = s.fake.run(uuid);
    expect(run.status).toBe("IN_PROGRESS");
    expect(run.updates.every((u) => u.body.status === undefined || u.body.status === "IN_PROGRESS")).toBe(true);
    expect(readdirSync(RunOutboxStore.dirOf(s.dataDir))).toEqual([]);
    // The plugin saw the decrypted app key and the run token (echo returns its input; the outputs are not sent for a handed-off run).
    expect(JSON.stringify(run.updates)).not.toContain("BEGIN RSA PRIVATE KEY");
    // echo logged its whole input, run token included: the log tail sent to meshStack masks it.
    expect(JSON.stringify(run.updates)).toContain("Echo:");
    expect(JSON.stringify(run.updates)).not.toContain(run.runToken);
  });

  test("DETECT sends the plan and changesDetected; the log tail goes to the step's systemMessage with secrets masked", async () => {
    const s = await setup({ plugins: { TERRAFORM: { plugin: "echo", action: "default" } } });
    const plan = Buffer.from("terraform plan bytes").toString("base64");
    const uuid = s.fake.addRun({
      type: "TERRAFORM",
      behavior: "DETECT",
      implementation: { repositoryUrl: "https://git.example.com/m.git", terraformVersion: "1.9.0", async: false },
      inputs: [{ key: "plan", value: plan, type: "STRING" }, { key: "changesDetected", value: true, type: "BOOLEAN" }, { key: "dbPassword", value: "hunter2-db-password", type: "STRING", isSensitive: true }],
    });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.artifact).toBe(plan);
    expect(run.changesDetected).toBe(true);
    const step = [...run.steps.values()].find((st) => typeof st.systemMessage === "string");
    expect(step?.systemMessage).toContain("Echo:");
    expect(JSON.stringify(run.updates)).not.toContain("hunter2-db-password");
  });

  test("a plugin resolves the run's decrypted secrets through ctx.secrets (meshstack:inputs.KEY), masked in its log", async () => {
    const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "secret" } } });
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ref", value: "meshstack:inputs.apiToken", type: "STRING" }, { key: "apiToken", value: "tok-0123456789", type: "STRING", isSensitive: true }] });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(JSON.stringify(run.updates)).toContain("[REDACTED]");
    expect(JSON.stringify(run.updates)).not.toContain("tok-0123456789");
  });

  test("an APPLY run after a DETECT downloads the plan artifact and gives it to the plugin", async () => {
    const s = await setup({ plugins: { TERRAFORM: { plugin: "echo", action: "default" } } });
    const uuid = s.fake.addRun({ type: "TERRAFORM", behavior: "APPLY", implementation: { repositoryUrl: "https://git.example.com/m.git" }, planArtifact: Buffer.from("PLAN") });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(s.fake.artifactDownloads).toBe(1);
    expect(JSON.stringify(run.steps.get("terraform")?.outputs?.planArtifact)).toContain(Buffer.from("PLAN").toString("base64"));
  });

  test("a claim whose outcome is unknown (no answer in time) is not retried at once: the next waits a poll interval", async () => {
    const s = await setup({ pollIntervalMs: 1000, requestTimeoutMs: 300 });
    s.fake.slowClaimMs = 800;
    await eventually(() => (s.fake.claims.length >= 3 ? true : undefined), 15_000, "three claims");
    s.fake.slowClaimMs = 0;
    const gaps = s.fake.claims.slice(0, 3).map((c, i, all) => (i === 0 ? Infinity : c.at - (all[i - 1] as { at: number }).at));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(800);
    expect(s.connection.details().claims.failed).toBeGreaterThanOrEqual(2);
  }, 30_000);

  for (const status of [410, 404] as const) {
    test(`a run meshStack answers ${status} for stops on the runner: its job is cancelled, its line ends, an error names the run and the status`, async () => {
      const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, statusIntervalMs: 100 });
      const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 20_000, type: "INTEGER" }] });
      await eventually(() => (s.fake.run(uuid).registeredAt !== undefined && s.runner.runningCount === 1 ? true : undefined), 10_000, "run started");
      s.fake.gone(uuid, status);
      await eventually(() => (s.runner.runningCount === 0 ? true : undefined), 10_000, "job stopped");
      expect(s.runner.snapshot().recent[0]).toMatchObject({ jobId: uuid, status: "cancelled" });
      // The line ended (nothing left to send or retry) and the status page says why.
      const result = await eventually(() => s.connection.details().recent.find((r) => r.runUuid === uuid), 5000, "line ended");
      expect(result.status).toBe("UNREPORTED");
      expect(result.message).toContain(`HTTP ${status}`);
      expect(s.connection.details().outboxRuns).toBe(0);
      expect(s.logs.some((r) => r.level === "error" && r.msg.includes(uuid) && r.msg.includes(`HTTP ${status}`))).toBe(true);
    });
  }

  test("a run whose source registration meshStack refuses with a 4xx stops on the runner: nothing is retried, nothing more is sent", async () => {
    const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, statusIntervalMs: 100 });
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 20_000, type: "INTEGER" }] });
    s.fake.refuseRegistration(uuid, 422);
    const result = await eventually(() => s.connection.details().recent.find((r) => r.runUuid === uuid), 10_000, "line ended");
    expect(result).toMatchObject({ status: "UNREPORTED" });
    expect(result.message).toContain("HTTP 422");
    await eventually(() => (s.runner.runningCount === 0 && s.runner.snapshot().recent[0]?.jobId === uuid ? true : undefined), 10_000, "job stopped");
    expect(s.runner.snapshot().recent[0]?.status).toBe("cancelled");
    expect(s.fake.run(uuid).calls).toBe(1);
    expect(s.fake.run(uuid).updates).toEqual([]);
    expect(s.logs.some((r) => r.level === "error" && r.msg.includes(uuid) && r.msg.includes("HTTP 422"))).toBe(true);
  });

  test("a final status meshStack refuses with 400 (an output too large) is sent once more without outputs, as FAILED saying why; the operator gets an error line", async () => {
    const s = await setup({ plugins: { TERRAFORM: { plugin: "echo", action: "default" } } });
    s.fake.maxOutputBytes = 1000;
    const uuid = s.fake.addRun({ type: "TERRAFORM", implementation: { repositoryUrl: "https://git.example.com/m.git" }, inputs: [{ key: "big", value: "x".repeat(5000), type: "STRING" }] });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain("meshStack refused the run's full result");
    expect(run.summary).toContain('HTTP 400: Output "big" is too large');
    expect(run.summary).toContain("The run succeeded on the runner");
    expect(run.steps.get("terraform")).toMatchObject({ status: "FAILED", userMessage: run.summary });
    expect(run.steps.get("terraform")?.outputs).toBeUndefined();
    // The full status was refused once; the minimal one was taken.
    expect(s.fake.refusals).toHaveLength(1);
    expect(JSON.stringify(run.updates.at(-1)?.body)).not.toContain("xxxx");
    expect(s.logs.some((r) => r.level === "error" && r.msg.includes(uuid) && r.msg.includes("HTTP 400"))).toBe(true);
    // The status page shows what meshStack now shows.
    const result = await eventually(() => s.connection.details().recent.find((r) => r.runUuid === uuid), 5000, "line ended");
    expect(result).toMatchObject({ status: "FAILED" });
    expect(result.message).toContain("refused");
  });

  test("a failure's summary and user message are cut to 2,000 characters (meshStack suggests short messages)", async () => {
    const s = await setup({ plugins: { MANUAL: { plugin: "echo", action: "fail" } } });
    const uuid = s.fake.addRun({ type: "MANUAL", inputs: [{ key: "message", value: `start ${"m".repeat(5000)}`, type: "STRING" }] });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("FAILED");
    expect(run.summary?.length).toBe(2000);
    expect(run.summary?.startsWith("start mmm")).toBe(true);
    expect(run.steps.get("manual")?.userMessage).toBe(run.summary);
  });

  test("a claimed run this runner cannot take (an implementation type it does not know) fails at once with the reason, never hangs", async () => {
    const s = await setup();
    const uuid = s.fake.addRun({ type: "MANUAL" });
    (s.fake.run(uuid).spec as { type: string }).type = "ANSIBLE_TOWER";
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain('implementation type "ANSIBLE_TOWER"');
    expect(s.fake.violations).toEqual([]);
  });

  test("a claimed run whose token cannot go in a header (a lone surrogate) is refused naming spec.runToken, not a claim error that loses it", async () => {
    const s = await setup({ logLevel: "warn" });
    const uuid = s.fake.addRun({ type: "MANUAL" });
    s.fake.run(uuid).runToken = "eyJhbGciOi\udc00JSUzI1NiJ9";
    await eventually(() => s.logs.find((r) => r.level === "error" && r.msg.includes('"spec.runToken"')), 10_000, "the error line");
    expect(s.logs.find((r) => r.level === "error" && r.msg.includes('"spec.runToken"'))?.msg).toContain("it cannot be reported back");
    expect(s.logs.filter((r) => r.msg.startsWith("Cannot claim a run"))).toEqual([]);
    expect(s.connection.status().state).toBe("connected");
  });
});
