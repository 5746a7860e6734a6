// The meshStack adapter in process, against the fake meshStack over loopback: a Runner with the
// real plugin pool and a MeshstackConnection. The compiled-binary tests (meshstack-e2e.test.ts)
// repeat the important cases as a user runs them.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readdirSync } from "node:fs";
import { memoryLogger } from "../../src/log/logger.ts";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { MeshstackConnection } from "../../src/controller/meshstack/meshstack-connection.ts";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import type { PluginChoice } from "../../src/controller/meshstack/implementations.ts";
import type { ImplementationType } from "../../src/controller/meshstack/run-document.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import { Runner } from "../../src/runner/runner.ts";
import { eventually, tempDir } from "../helpers/harness.ts";
import { FakeMeshstack } from "./fake-meshstack.ts";

let privateKey: KeyObject;
let publicPem: string;
let otherPublicPem: string;
beforeAll(() => {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  privateKey = pair.privateKey;
  publicPem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
  otherPublicPem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }) as string;
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  fake: FakeMeshstack;
  runner: Runner;
  connection: MeshstackConnection;
  dataDir: string;
}

async function setup(options: { concurrency?: number; plugins?: Partial<Record<ImplementationType, PluginChoice>>; fake?: FakeMeshstack; dataDir?: string; statusIntervalMs?: number } = {}): Promise<Setup> {
  const fake = options.fake ?? (await new FakeMeshstack({ clientId: "cid", clientSecret: "csecret", publicKeyPem: publicPem }).start());
  if (options.fake === undefined) cleanups.push(() => fake.stop());
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    const t = tempDir("meshstack-adapter-");
    cleanups.push(t.remove);
    dataDir = t.dir;
  }
  const { logger } = memoryLogger("error");
  const client = new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "cid", clientSecret: "csecret" }, runnerName: "edge-runner", runnerVersion: "test", nodeId: "node-1", requestTimeoutMs: 2000 });
  const connection = new MeshstackConnection({
    client,
    runnerUuid: fake.runnerUuid,
    store: new RunOutboxStore(dataDir),
    keys: () => [privateKey],
    plugins: options.plugins ?? { MANUAL: { plugin: "echo", action: "default" } },
    logger,
    pollIntervalMs: 50,
    statusIntervalMs: options.statusIntervalMs ?? 200,
    logIntervalMs: 50,
    retryMinMs: 20,
    retryMaxMs: 200,
  });
  const pool = new PluginPool({ idleMs: 60_000, logger, cancelGraceMs: 200 });
  const runner = new Runner({ runnerId: fake.runnerUuid, group: "meshstack", controllerUrl: fake.url, concurrency: options.concurrency ?? 2, jobTimeoutMs: 30_000, drainTimeoutMs: 5000, connection, executor: pool, logger, flushTimeoutMs: 3000 });
  runner.start();
  cleanups.push(() => runner.interruptNow());
  return { fake, runner, connection, dataDir };
}

const ended = (fake: FakeMeshstack, uuid: string) => () => (fake.run(uuid).status !== "IN_PROGRESS" ? fake.run(uuid) : undefined);

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
    await eventually(() => (readdirSync(new RunOutboxStore(s.dataDir).dir).length === 0 ? true : undefined), 5000, "outbox empty");
  });

  test("a run whose inputs were encrypted to another key fails within 1 s saying the key pair does not match", async () => {
    const s = await setup();
    const { meshstackEncrypt } = await import("./meshstack-encrypt.ts");
    const uuid = s.fake.addRun({ type: "MANUAL", rawInputs: [{ key: "password", type: "STRING", isSensitive: true, value: meshstackEncrypt(otherPublicPem, "x-secret") }] });
    const run = await eventually(ended(s.fake, uuid), 10_000, "run ended");
    expect(run.status).toBe("FAILED");
    expect((run.finishedAt ?? 0) - (run.claimedAt ?? 0)).toBeLessThan(1000);
    expect(run.summary).toContain('Cannot decrypt meshStack input "password"');
    expect(run.summary).toContain("key pair does not match");
    expect(run.summary).toContain("--runner-key-file");
    expect(s.fake.violations).toEqual([]);
  });

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

  test("claims only while a slot is free, and runs `concurrency` runs at once", async () => {
    const s = await setup({ concurrency: 3, plugins: { MANUAL: { plugin: "echo", action: "sleep" } } });
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
});
