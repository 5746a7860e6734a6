// The meshStack outbox sealed at rest: a run's token and its unsent updates (a final status with
// sensitive outputs' real values, a DETECT run's plan) are on disk only sealed with the runner's
// outbox key, and what was sealed comes back after a restart. A record of the previous format
// (token in clear) is resumed and rewritten sealed; one sealed with another key is reported and
// kept, never dropped.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, resolveConfig } from "../../src/config/resolve.ts";
import { outboxCipher } from "../../src/controller/meshstack/from-config.ts";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import { Redactor } from "../../src/log/redact.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { secretForms } from "../../src/secrets/redaction/secret-forms.ts";
import { meshstackSection } from "../../src/status/meshstack-section.ts";
import { eventually } from "../helpers/harness.ts";
import { claimedRecord, cleanUp, dataDirOf, ended, runnerKeys, startAdapter, startFake } from "./adapter-bed.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

const outboxKey = (dataDir: string) => AtRestCipher.fromKeyFile(join(dataDir, "keys", "outbox.key"), "meshStack outbox");
const recordFile = (dataDir: string, uuid: string) => join(RunOutboxStore.dirOf(dataDir), `${uuid}.run.json`);
const onDisk = (dataDir: string, uuid: string): Record<string, unknown> | undefined => (existsSync(recordFile(dataDir, uuid)) ? (JSON.parse(readFileSync(recordFile(dataDir, uuid), "utf8")) as Record<string, unknown>) : undefined);

/** Every file under `dir` but the outbox key, as text: what a copy of the data directory without the key file holds. */
function everyFileBut(dir: string, keyFile: string): string {
  let text = "";
  for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const file = join(dir, name);
    if (file !== keyFile && statSync(file).isFile()) text += `${file}\n${readFileSync(file, "latin1")}\n`;
  }
  return text;
}

/** Each of `secrets` in none of its forms (plain, base64 and base64url at any alignment, hex, URL, JSON). */
function expectNone(text: string, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets)) {
    expect({ name, found: secretForms(secret).filter((form) => text.includes(form)) }).toEqual({ name, found: [] });
  }
}

describe("the meshStack outbox at rest", () => {
  test("a DETECT run's final status waiting in the outbox: no run token, sensitive output or plan on disk in any encoding; a restart with the key file sends them", async () => {
    const dataDir = dataDirOf();
    const fake = await startFake();
    const sensitive = `cnry-outbox-sensitive-${randomBytes(8).toString("hex")}`;
    const plan = `terraform plan holding db_password = "cnry-outbox-plan-${randomBytes(8).toString("hex")}"`;
    const planB64 = Buffer.from(plan).toString("base64");
    // Registration works, status updates fail: the final status stays in the outbox.
    fake.updateOutage = true;
    const first = await startAdapter({ fake, dataDir, cipher: outboxKey(dataDir), plugins: { TERRAFORM: { plugin: "echo", action: "default" } } });
    const uuid = fake.addRun({
      type: "TERRAFORM",
      behavior: "DETECT",
      implementation: { repositoryUrl: "https://git.example.com/m.git", terraformVersion: "1.9.0", async: false },
      // echo returns its input: `plan` becomes the artifact, `dbUrl` a sensitive output with its real value.
      inputs: [{ key: "plan", value: planB64, type: "STRING" }, { key: "changesDetected", value: true, type: "BOOLEAN" }, { key: "dbUrl", value: { $sensitive: sensitive }, type: "CODE" }],
    });
    await eventually(() => (onDisk(dataDir, uuid)?.phase === "ending" ? true : undefined), 15_000, "final status in the outbox");
    const written = everyFileBut(dataDir, join(dataDir, "keys", "outbox.key"));
    expect(written).toContain(`${uuid}.run.json`);
    expectNone(written, { runToken: fake.run(uuid).runToken, sensitive, plan, planB64 });
    // What the status page and the start-up listing need is in clear.
    expect(onDisk(dataDir, uuid)).toMatchObject({ uuid, workspace: "ws-1", implementationType: "TERRAFORM" });

    await (first.runner as NonNullable<typeof first.runner>).interruptNow();
    expect(fake.run(uuid).status).toBe("IN_PROGRESS");
    fake.updateOutage = false;
    // A new process: the key read from its file again, the record opened and sent.
    await startAdapter({ fake, dataDir, cipher: outboxKey(dataDir), runner: false });
    const run = await eventually(ended(fake, uuid), 15_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.artifact).toBe(planB64);
    const outputs = [...run.steps.values()].map((step) => step.outputs?.dbUrl).find((o) => o !== undefined);
    expect(outputs).toEqual({ value: sensitive, type: "STRING", isSensitive: true });
    await eventually(() => (onDisk(dataDir, uuid) === undefined ? true : undefined), 5000, "record removed");
  }, 60_000);

  test("a record of the previous format (run token in clear) is resumed and rewritten sealed at once", async () => {
    const dataDir = dataDirOf();
    const fake = await startFake();
    const record = await claimedRecord(fake, "sent from an old record");
    mkdirSync(RunOutboxStore.dirOf(dataDir), { recursive: true, mode: 0o700 });
    writeFileSync(recordFile(dataDir, record.uuid), JSON.stringify({ v: 1, ...record }), { mode: 0o600 });
    fake.updateOutage = true;
    await startAdapter({ fake, dataDir, cipher: outboxKey(dataDir), runner: false });
    await eventually(() => (onDisk(dataDir, record.uuid)?.v === 2 ? true : undefined), 10_000, "record rewritten");
    expectNone(readFileSync(recordFile(dataDir, record.uuid), "utf8"), { runToken: record.runToken });
    fake.updateOutage = false;
    const run = await eventually(ended(fake, record.uuid), 15_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.summary).toBe("sent from an old record");
    expect(fake.violations).toEqual([]);
  }, 30_000);

  test("a record sealed with another key is reported on the log and the status page and kept; with its key back, a restart sends it", async () => {
    const dataDir = dataDirOf();
    const fake = await startFake();
    const record = await claimedRecord(fake, "sent once the key was back");
    const original = new AtRestCipher(randomBytes(32), "meshStack outbox");
    await new RunOutboxStore(dataDir, original).save(record);
    const before = readFileSync(recordFile(dataDir, record.uuid), "utf8");

    const replaced = await startAdapter({ fake, dataDir, cipher: new AtRestCipher(randomBytes(32), "meshStack outbox"), runner: false });
    const unreadable = await eventually(() => (replaced.connection.details().unreadable.length > 0 ? replaced.connection.details().unreadable : undefined), 10_000, "record reported");
    expect(unreadable).toEqual([{ file: recordFile(dataDir, record.uuid), reason: expect.stringContaining("the meshStack outbox key file does not match") }]);
    const logged = replaced.logs.filter((r) => r.level === "error").map((r) => r.msg);
    expect(logged.some((m) => m.includes(recordFile(dataDir, record.uuid)) && m.includes("restore the outbox key file"))).toBe(true);
    const section = meshstackSection(() => replaced.connection.details());
    expect(section.html(new Redactor(), Date.now())).toContain("Outbox file not resumed");
    expect(section.metrics()).toContain("edge_runner_meshstack_outbox_unreadable 1");
    // Kept as it was, and nothing sent for its run.
    expect(readFileSync(recordFile(dataDir, record.uuid), "utf8")).toBe(before);
    expect(fake.run(record.uuid).registeredAt).toBeUndefined();

    await startAdapter({ fake, dataDir, cipher: original, runner: false });
    const run = await eventually(ended(fake, record.uuid), 15_000, "run ended");
    expect(run.summary).toBe("sent once the key was back");
  }, 30_000);
});

describe("outboxCipher()", () => {
  const config = (argv: string[]) => resolveConfig({ scopes: ["runner"], argv, env: {}, readFile: () => "" }).config;

  test("creates outbox.key beside the key ring on first use (0600 in a 0700 directory), then reads the same key", () => {
    const dataDir = dataDirOf();
    const sealed = outboxCipher(config(["--data-dir", dataDir])).seal("v", "c");
    const file = join(dataDir, "keys", "outbox.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "keys")).mode & 0o777).toBe(0o700);
    expect(outboxCipher(config(["--data-dir", dataDir])).open(sealed, "c")).toBe("v");
    // runnerKeyDir moves it with the ring; meshstackOutboxKeyFile names it.
    outboxCipher(config(["--data-dir", dataDir, "--runner-key-dir", join(dataDir, "ring")]));
    expect(existsSync(join(dataDir, "ring", "outbox.key"))).toBe(true);
    outboxCipher(config(["--data-dir", dataDir, "--meshstack-outbox-key-file", join(dataDir, "elsewhere.key")]));
    expect(existsSync(join(dataDir, "elsewhere.key"))).toBe(true);
  });

  test("a key file other users can read is a config error naming the file and the fix (exit 78)", () => {
    const dataDir = dataDirOf();
    outboxCipher(config(["--data-dir", dataDir]));
    const file = join(dataDir, "keys", "outbox.key");
    chmodSync(file, 0o644);
    let error: unknown;
    try {
      outboxCipher(config(["--data-dir", dataDir]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe("meshstackOutboxKeyFile");
    expect((error as ConfigError).message).toBe(`Refusing meshStack outbox key file "${file}": mode 0644 lets other users read it; run chmod 600 "${file}"`);
  });
});
