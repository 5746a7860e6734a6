// edge-runner as a meshStack building block runner, through the compiled binary, against the
// fake meshStack: keygen + keys cert as the registered key, a run end to end, a key mismatch,
// abort, a meshStack outage in the middle of runs, SIGKILL with runs claimed and a restart,
// concurrency 8 with no claim while full, and a SIGTERM drain.
//
// The outage lasts MESHSTACK_TEST_OUTAGE_MS: 10 s by default, so `npm test` stays short (the runs,
// poll, status and retry intervals are all well under it); MESHSTACK_TEST_OUTAGE_MS=60000 gives
// the 60 s.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLAVOURS, STATUS_URL, assertBuilt, runToEnd, start, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";
import { eventually } from "../helpers/harness.ts";
import { FakeMeshstack, type FakeRun } from "./fake-meshstack.ts";
import { meshstackEncrypt } from "./meshstack-encrypt.ts";

const binary = FLAVOURS[0] as Flavour;
const OUTAGE_MS = Number(process.env.MESHSTACK_TEST_OUTAGE_MS ?? 10_000);
const SLEEP_PLUGIN = JSON.stringify({ MANUAL: { plugin: "echo", action: "sleep" } });
let dir: string;
let keyFile: string;
let publicPem: string;
const procs: Proc[] = [];
const fakes: FakeMeshstack[] = [];

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-meshstack-"));
  // The key a meshcloud runner was registered with: PKCS#1, given with --runner-key-file.
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  keyFile = path.join(dir, "meshcloud-runner.key");
  writeFileSync(keyFile, pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string, { mode: 0o600 });
  publicPem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
  writeFileSync(path.join(dir, "client-secret"), "meshstack-client-secret-0123\n", { mode: 0o600 });
});
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  await Promise.all(fakes.map((f) => f.stop()));
  rmSync(dir, { recursive: true, force: true });
});

// Every request the runner sent in a test is checked against the protocol (fake-meshstack-headers.ts,
// fake-meshstack-bodies.ts): a drift fails the test that sent it.
afterEach(() => {
  const violations = fakes.flatMap((f) => f.violations.splice(0));
  expect(violations).toEqual([]);
});

async function fakeMeshstack(publicKeyPem = publicPem): Promise<FakeMeshstack> {
  const fake = await new FakeMeshstack({ clientId: "edge-client", clientSecret: "meshstack-client-secret-0123", publicKeyPem }).start();
  fakes.push(fake);
  return fake;
}

function runnerArgs(fake: FakeMeshstack, dataDir: string, extra: string[] = []): string[] {
  return [
    "run", "--controller-kind", "meshstack", "--controller-url", fake.url, "--runner-id", fake.runnerUuid,
    "--meshstack-client-id", "edge-client", "--api-key-file", path.join(dir, "client-secret"),
    "--data-dir", dataDir, "--status-port", "0", "--poll-interval", "200ms", "--meshstack-status-interval", "500ms",
    "--reconnect-min", "100ms", "--reconnect-max", "1s", ...extra,
  ];
}

async function startRunner(fake: FakeMeshstack, name: string, extra: string[] = [], dataDir = path.join(dir, name)): Promise<{ proc: Proc; statusUrl: string; dataDir: string }> {
  const proc = start(binary, runnerArgs(fake, dataDir, ["--runner-key-file", keyFile, ...extra]));
  procs.push(proc);
  const statusUrl = await waitForOutput(proc, STATUS_URL);
  return { proc, statusUrl, dataDir };
}

const runFiles = (dataDir: string) => readdirSync(path.join(dataDir, "meshstack", "runs")).filter((n) => n.endsWith(".run.json"));

const ended = (fake: FakeMeshstack, uuid: string) => () => (fake.run(uuid).status !== "IN_PROGRESS" ? fake.run(uuid) : undefined);

/** Longer than anything a prompt failure takes on a loaded machine, and shorter than any wait it must not do. */
const LATE_MS = 60_000;

/**
 * The "fails within 1 s", as one clock (the fake's) and the runner's own intervals see it:
 * about 50 ms on an idle machine, but a loaded one can stall a process for over a second, so the
 * bound is what a failure that waited would exceed. The FAILED final status is the run's only
 * update (it never ran: no status tick), and it came long before the minute-long status interval
 * and job timeout could have elapsed.
 */
function expectFailedAtOnce(run: FakeRun): void {
  expect(run.updates.map((u) => u.body.status)).toEqual(["FAILED"]);
  expect((run.finishedAt as number) - (run.claimedAt as number)).toBeLessThan(LATE_MS / 3);
}

/** Every update of a run after its final status would be a protocol error; the final one is last. */
function expectOrdered(run: FakeRun): void {
  const finals = run.updates.filter((u) => u.body.status === "SUCCEEDED" || u.body.status === "FAILED");
  expect(finals.length).toBe(1);
  expect(run.updates.at(-1)?.body.status).toBe(finals[0]?.body.status as string);
}

describe("edge-runner against meshStack (compiled binary)", () => {
  test("keygen + keys cert: inputs encrypted to the certificate's key are decrypted, a MANUAL run succeeds, /status shows it", async () => {
    const dataDir = path.join(dir, "keygen");
    expect((await runToEnd(binary, ["keygen", "--data-dir", dataDir])).code).toBe(0);
    const cert = await runToEnd(binary, ["keys", "cert", "--data-dir", dataDir, "--common-name", "edge-runner e2e"]);
    expect(cert.code).toBe(0);
    const certificate = new X509Certificate(cert.output.slice(cert.output.indexOf("-----BEGIN CERTIFICATE-----")));
    expect(certificate.subject).toBe("CN=edge-runner e2e");
    const fake = await fakeMeshstack(certificate.publicKey.export({ type: "spki", format: "pem" }) as string);
    // MANUAL runs on the built-in manual plugin (no --meshstack-plugins).
    const proc = start(binary, runnerArgs(fake, dataDir));
    procs.push(proc);
    const statusUrl = await waitForOutput(proc, STATUS_URL);
    const uuid = fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 10, type: "INTEGER" }, { key: "token", value: "e2e-sensitive-token-value", type: "STRING", isSensitive: true }] });
    const run = await eventually(ended(fake, uuid), 20_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.steps.get("manual")?.outputs?.ms).toEqual({ value: 10, type: "INTEGER", isSensitive: false });
    expect(run.steps.get("manual")?.outputs?.token?.isSensitive).toBe(true);
    expect(JSON.stringify(run.updates)).not.toContain("e2e-sensitive-token-value");
    expect(fake.violations).toEqual([]);
    // The runner lists the result once meshStack's answer to the final update is in.
    const status = await eventually(async () => {
      const doc = (await (await fetch(`${statusUrl}/status`)).json()) as { meshstack?: { lastClaimPollAt?: number; recent: Array<{ runUuid: string; status: string }> } };
      return doc.meshstack?.recent.length === 1 ? doc : undefined;
    }, 10_000, "result on /status");
    expect(status.meshstack?.lastClaimPollAt).toBeGreaterThan(0);
    expect(status.meshstack?.recent[0]).toMatchObject({ runUuid: uuid, status: "SUCCEEDED" });
    const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
    expect(metrics).toContain('edge_runner_meshstack_claims_total{outcome="claimed"} 1');
    expect(proc.output()).not.toContain("e2e-sensitive-token-value");
    expect(proc.output()).not.toContain("meshstack-client-secret-0123");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }, 60_000);

  test("a run encrypted to another key fails at once (before any status interval or timeout) with a key-mismatch message", async () => {
    const fake = await fakeMeshstack();
    // Everything a late failure could wait for is a minute away: the status interval, the job timeout.
    await startRunner(fake, "mismatch", ["--meshstack-status-interval", `${LATE_MS}ms`, "--job-timeout", `${LATE_MS}ms`]);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    const uuid = fake.addRun({ type: "MANUAL", rawInputs: [{ key: "dbPassword", type: "STRING", isSensitive: true, value: meshstackEncrypt(other, "x") }] });
    const run = await eventually(ended(fake, uuid), LATE_MS / 2, "run ended");
    expect(run.status).toBe("FAILED");
    expectFailedAtOnce(run);
    expect(run.summary).toContain('"dbPassword"');
    expect(run.summary).toContain("key pair does not match");
    expect(fake.violations).toEqual([]);
  }, 60_000);

  test("runAborted cancels the run at once and nothing more is sent", async () => {
    const fake = await fakeMeshstack();
    const { statusUrl } = await startRunner(fake, "abort", ["--meshstack-plugins", SLEEP_PLUGIN]);
    const uuid = fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 60_000, type: "INTEGER" }] });
    await eventually(() => (fake.run(uuid).updates.length > 0 ? true : undefined), 20_000, "first update");
    fake.abort(uuid);
    await eventually(async () => {
      const status = (await (await fetch(`${statusUrl}/status`)).json()) as { running: unknown[] };
      return status.running.length === 0 ? true : undefined;
    }, 10_000, "run cancelled");
    const refused = fake.run(uuid).refusedUpdates;
    expect(refused).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.run(uuid).refusedUpdates).toBe(refused);
  }, 60_000);

  test(`a meshStack outage of ${OUTAGE_MS / 1000} s in the middle of runs: every final status arrives afterwards, in order`, async () => {
    const fake = await fakeMeshstack();
    await startRunner(fake, "outage", ["--meshstack-plugins", SLEEP_PLUGIN]);
    const uuids = [500, 1000, 1500, 2000].map((ms) => fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: ms, type: "INTEGER" }] }));
    await eventually(() => (uuids.every((u) => fake.run(u).registeredAt !== undefined) ? true : undefined), 20_000, "all registered");
    fake.outage = true;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    expect(uuids.map((u) => fake.run(u).status)).toEqual(Array(4).fill("IN_PROGRESS"));
    fake.outage = false;
    for (const uuid of uuids) {
      const run = await eventually(ended(fake, uuid), 30_000, "run ended");
      expect(run.status).toBe("SUCCEEDED");
      expectOrdered(run);
    }
    expect(fake.outageAnswers).toBeGreaterThan(0);
    expect(fake.violations).toEqual([]);
  }, OUTAGE_MS + 90_000);

  test("SIGKILL with runs claimed, then a restart: no run is left IN_PROGRESS", async () => {
    const fake = await fakeMeshstack();
    const first = await startRunner(fake, "sigkill", ["--meshstack-plugins", SLEEP_PLUGIN]);
    const uuids = [1, 2, 3].map(() => fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 120_000, type: "INTEGER" }] }));
    await eventually(() => (uuids.every((u) => fake.run(u).registeredAt !== undefined) ? true : undefined), 20_000, "all registered");
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    expect(uuids.map((u) => fake.run(u).status)).toEqual(Array(3).fill("IN_PROGRESS"));
    expect(runFiles(first.dataDir).length).toBe(3);
    await startRunner(fake, "sigkill", ["--meshstack-plugins", SLEEP_PLUGIN], first.dataDir);
    for (const uuid of uuids) {
      const run = await eventually(ended(fake, uuid), 20_000, "run reported");
      expect(run.status).toBe("FAILED");
      expect(run.summary).toContain("restarted during the run");
    }
    // Nothing is left behind: no record, and no temporary file of a write the SIGKILL cut off.
    await eventually(() => (readdirSync(path.join(first.dataDir, "meshstack", "runs")).length === 0 ? true : undefined), 10_000, "outbox empty");
  }, 90_000);

  test("concurrency 8: eight runs at once, and no claim is sent while all eight slots are busy", async () => {
    const fake = await fakeMeshstack();
    await startRunner(fake, "concurrency", ["--meshstack-plugins", SLEEP_PLUGIN, "--concurrency", "8"]);
    const uuids = Array.from({ length: 16 }, () => fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 3000, type: "INTEGER" }] }));
    await eventually(() => (fake.openRuns() === 8 ? true : undefined), 20_000, "eight runs open");
    for (const uuid of uuids) await eventually(ended(fake, uuid), 60_000, "run ended");
    expect(uuids.map((u) => fake.run(u).status)).toEqual(Array(16).fill("SUCCEEDED"));
    // A claim while eight runs were open is allowed only in the instant after one ended in the
    // runner and before its final status reached meshStack.
    const runs = uuids.map((u) => fake.run(u));
    const whileFull = fake.claims.filter((c) => c.openRuns >= 8 && !runs.some((r) => (r.finishedAt ?? 0) >= c.at && (r.finishedAt ?? 0) - c.at < 1000));
    expect(whileFull).toEqual([]);
    // Eight at once: the eighth claim came before any run had ended (each sleeps 3 s), on the
    // fake's one clock, however slowly a loaded machine hands out the claims.
    const starts = runs.map((r) => r.claimedAt as number).sort((a, b) => a - b);
    expect(starts[7] as number).toBeLessThan(Math.min(...runs.map((r) => r.finishedAt as number)));
  }, 120_000);

  test("SIGTERM drains: no new claims, a running run finishes, one past the drain timeout is reported FAILED", async () => {
    const fake = await fakeMeshstack();
    const { proc } = await startRunner(fake, "drain", ["--meshstack-plugins", SLEEP_PLUGIN, "--drain-timeout", "2s"]);
    const short = fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 800, type: "INTEGER" }] });
    const long = fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 120_000, type: "INTEGER" }] });
    await eventually(() => (fake.run(short).registeredAt !== undefined && fake.run(long).registeredAt !== undefined ? true : undefined), 20_000, "both registered");
    proc.kill("SIGTERM");
    await waitForOutput(proc, /Received SIGTERM/);
    // A claim already on its way when the signal came may still arrive; none goes out after.
    await new Promise((r) => setTimeout(r, 300));
    const claimsAtTerm = fake.claims.length;
    const queued = fake.addRun({ type: "MANUAL", inputs: [{ key: "ms", value: 10, type: "INTEGER" }] });
    expect(await proc.exited).toBe(0);
    expect(fake.run(short).status).toBe("SUCCEEDED");
    expect(fake.run(long).status).toBe("FAILED");
    expect(fake.run(long).summary).toContain("runner stopped before the run finished");
    expect(fake.run(queued).claimedAt).toBeUndefined();
    expect(fake.claims.length).toBe(claimsAtTerm);
  }, 60_000);
});


describe("edge-runner doctor for meshStack (compiled binary)", () => {
  test("passes when the login works, the runner UUID is registered and a key matches the registered certificate; fails on a foreign certificate and on an outbox key file others can read", async () => {
    const fake = await fakeMeshstack();
    mkdirSync(path.join(dir, "doctor"), { mode: 0o700 });
    const args = runnerArgs(fake, path.join(dir, "doctor"), ["--runner-key-file", keyFile]).slice(1).filter((a, i, all) => a !== "--status-port" && all[i - 1] !== "--status-port");
    const good = await runToEnd(binary, ["doctor", ...args]);
    expect(good.output).toContain("logged in as API key client");
    expect(good.output).toMatch(/key 1 of 1 decrypts a test value/);
    expect(good.code).toBe(0);
    expect(fake.claims.length).toBe(0);
    expect(good.output).not.toContain("meshstack-client-secret-0123");
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }) as string;
    fake.registeredPublicKey = other;
    const bad = await runToEnd(binary, ["doctor", ...args]);
    expect(bad.output).toContain("none of the runner's 1 key(s) decrypts");
    expect(bad.code).not.toBe(0);
    expect(fake.claims.length).toBe(0);
    // An outbox key file others can read fails the check before any call to meshStack.
    const outboxKey = path.join(dir, "doctor", "keys", "outbox.key");
    mkdirSync(path.dirname(outboxKey), { recursive: true, mode: 0o700 });
    writeFileSync(outboxKey, `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o644 });
    const logins = fake.logins;
    const readable = await runToEnd(binary, ["doctor", ...args]);
    expect(readable.output).toContain(`meshStack outbox key file: "${outboxKey}" has mode 0644`);
    expect(readable.output).toContain(`chmod 600 "${outboxKey}"`);
    expect(readable.code).not.toBe(0);
    expect(fake.logins).toBe(logins);
  }, 60_000);
});

describe("meshStack configuration errors (compiled binary)", () => {
  test("missing credentials, a runner id that is not a UUID, an unreadable runnerKeyFile and a readable outbox key file exit 78 naming the option, before any network call", async () => {
    const fake = await fakeMeshstack();
    const base = ["run", "--controller-kind", "meshstack", "--controller-url", fake.url, "--data-dir", path.join(dir, "config-errors"), "--status-port", "0"];
    const noCreds = await runToEnd(binary, [...base, "--runner-id", fake.runnerUuid]);
    expect(noCreds.code).toBe(78);
    expect(noCreds.output).toContain("--meshstack-client-id");
    const notUuid = await runToEnd(binary, [...base, "--runner-id", "build-01", "--meshstack-client-id", "edge-client", "--api-key-file", path.join(dir, "client-secret")]);
    expect(notUuid.code).toBe(78);
    expect(notUuid.output).toContain('"runnerId"');
    const readable = path.join(dir, "readable.key");
    writeFileSync(readable, "x", { mode: 0o644 });
    const badKey = await runToEnd(binary, [...base, "--runner-id", fake.runnerUuid, "--meshstack-client-id", "edge-client", "--api-key-file", path.join(dir, "client-secret"), "--runner-key-file", readable]);
    expect(badKey.code).toBe(78);
    expect(badKey.output).toContain("chmod 600");
    // The outbox's key file (run tokens and unsent updates are sealed with it) follows the same rule.
    const outboxKey = path.join(dir, "config-errors-outbox", "keys", "outbox.key");
    mkdirSync(path.dirname(outboxKey), { recursive: true, mode: 0o700 });
    writeFileSync(outboxKey, `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o644 });
    const ownArgs = ["--runner-id", fake.runnerUuid, "--meshstack-client-id", "edge-client", "--api-key-file", path.join(dir, "client-secret"), "--runner-key-file", keyFile];
    const readableOutboxKey = await runToEnd(binary, [...base.slice(0, 5), "--data-dir", path.join(dir, "config-errors-outbox"), "--status-port", "0", ...ownArgs]);
    expect(readableOutboxKey.code).toBe(78);
    expect(readableOutboxKey.output).toContain(`Refusing meshStack outbox key file "${outboxKey}"`);
    expect(readableOutboxKey.output).toContain("chmod 600");
    expect(fake.logins + fake.claims.length).toBe(0);
  }, 60_000);
});

describe("meshStack on the bundle under Node and Deno", () => {
  for (const flavour of FLAVOURS.slice(1)) {
    test(`${flavour.name}: a MANUAL run with a sensitive input succeeds`, async () => {
      const fake = await fakeMeshstack();
      const dataDir = path.join(dir, `bundle-${flavour.name.replace(/\W/g, "")}`);
      const proc = start(flavour, runnerArgs(fake, dataDir, ["--runner-key-file", keyFile]));
      procs.push(proc);
      await waitForOutput(proc, STATUS_URL, 30_000);
      const uuid = fake.addRun({ type: "MANUAL", inputs: [{ key: "pw", value: "bundle-sensitive-value", type: "STRING", isSensitive: true }, { key: "n", value: 1, type: "INTEGER" }] });
      const run = await eventually(ended(fake, uuid), 30_000, "run ended");
      expect(run.status).toBe("SUCCEEDED");
      expect(run.steps.get("manual")?.outputs?.n).toEqual({ value: 1, type: "INTEGER", isSensitive: false });
      expect(fake.violations).toEqual([]);
      expect(proc.output()).not.toContain("bundle-sensitive-value");
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }, 60_000);
  }
});
