// Rotating the meshStack outbox key the way the runner's key ring rotates: `keys rotate --outbox`
// keeps the old key beside the new one, records sealed with it still open and are resealed under
// the new key (at start, and by a running runner within keyRingCheckMs), `keys retire --outbox`
// refuses the old key while a record on disk needs it, and the doctor says which keys seal what.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keysCommand } from "../../src/cli/keys-command.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { outboxKeyRing, outboxKeys } from "../../src/controller/meshstack/from-config.ts";
import { RunOutboxStore, type RunRecord } from "../../src/controller/meshstack/outbox.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { meshstackCheck } from "../../src/ops/doctor/checks/meshstack.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { rotateAtRestKey } from "../../src/secrets/at-rest-ring.ts";
import { eventually } from "../helpers/harness.ts";
import { claimedRecord, cleanUp, dataDirOf, ended, runnerKeys, startAdapter, startFake } from "./adapter-bed.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

const config = (dataDir: string, more: string[] = []) => resolveConfig({ scopes: ["runner"], argv: ["--data-dir", dataDir, ...more], env: {}, readFile: (p) => readFileSync(p, "utf8") }).config;
const keyFile = (dataDir: string) => join(dataDir, "keys", "outbox.key");
const recordFile = (dataDir: string, uuid: string) => join(RunOutboxStore.dirOf(dataDir), `${uuid}.run.json`);
const sealedWith = (dataDir: string, uuid: string) => (JSON.parse(readFileSync(recordFile(dataDir, uuid), "utf8")) as { key?: string }).key;

function record(uuid: string): RunRecord {
  return { uuid, runToken: `token-${uuid}`, registerUrl: "http://127.0.0.1:1/r", updateUrl: "http://127.0.0.1:1/u", claimedAt: 1, phase: "ending", workspace: "ws", implementationType: "MANUAL", nextSeq: 2, pending: [{ seq: 1, kind: "patch", body: { status: "SUCCEEDED" }, final: true }] };
}

/** Runs `edge-runner keys …` in process; its exit code and what it printed on stdout. */
async function keys(args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write;
  const errWrite = process.stderr.write;
  let stdout = "";
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return { code: await keysCommand.run(args), stdout };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
}

describe("edge-runner keys --outbox", () => {
  test("rotate keeps the old key beside the new one; a record sealed before opens and is resealed at start; retire refuses the old key while a record needs it, then removes it", async () => {
    const dataDir = dataDirOf();
    const old = outboxKeyRing(config(dataDir));
    await new RunOutboxStore(dataDir, old).save(record("r1"));
    const oldId = old.current.id;
    expect(sealedWith(dataDir, "r1")).toBe(oldId);

    const rotated = await keys(["rotate", "--outbox", "--data-dir", dataDir]);
    expect(rotated.code).toBe(0);
    const newId = rotated.stdout.trim();
    expect(newId).toMatch(/^[0-9a-f]{16}$/);
    expect(newId).not.toBe(oldId);
    const kept = join(dataDir, "keys", `outbox.${oldId}.key`);
    expect(statSync(kept).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(JSON.parse((await keys(["list", "--outbox", "--data-dir", dataDir, "--json"])).stdout)).toEqual({
      file: keyFile(dataDir),
      keys: [{ id: newId, current: true, records: 0, file: keyFile(dataDir) }, { id: oldId, current: false, records: 1, file: kept }],
      unreadableRecords: 0,
    });
    // The record still needs the old key: retiring it would make its run unreportable.
    expect((await keys(["retire", "--outbox", "--data-dir", dataDir, oldId])).code).toBe(1);
    expect(existsSync(kept)).toBe(true);
    expect((await keys(["retire", "--outbox", "--data-dir", dataDir, newId])).code).toBe(1);

    // The runner's next start opens it with the kept key and reseals it under the new one.
    const { logger } = memoryLogger("error");
    const loaded = await new RunOutboxStore(dataDir, outboxKeys(config(dataDir), logger)).load(() => {});
    expect(loaded).toEqual([record("r1")]);
    expect(sealedWith(dataDir, "r1")).toBe(newId);
    const oldAlone = AtRestCipher.fromKeyFile(kept, "meshStack outbox");
    expect(await new RunOutboxStore(dataDir, oldAlone).load(() => {})).toEqual([]);

    expect((await keys(["retire", "--outbox", "--data-dir", dataDir, oldId])).code).toBe(0);
    expect(existsSync(kept)).toBe(false);
    expect(await new RunOutboxStore(dataDir, outboxKeyRing(config(dataDir))).load(() => {})).toEqual([record("r1")]);
    expect((await keys(["retire", "--outbox", "--data-dir", dataDir, oldId])).code).toBe(1);
    expect((await keys(["cert", "--outbox", "--data-dir", dataDir])).code).toBe(64);
  });

  test("a running store reseals under a rotated key once keyRingCheckMs has passed; a record removed meanwhile stays removed", async () => {
    const dataDir = dataDirOf();
    let now = 1_000_000;
    const { logger, records } = memoryLogger("info");
    const store = new RunOutboxStore(dataDir, outboxKeys(config(dataDir, ["--key-ring-check", "5s"]), logger, () => now));
    await store.load(() => {});
    await store.save(record("r1"));
    await store.save(record("r2"));
    const { previous, current } = await rotateAtRestKey(keyFile(dataDir), "meshStack outbox");
    expect(sealedWith(dataDir, "r1")).toBe(previous!);
    // Not yet due: the runner has not re-read the key file.
    expect(await store.resealIfRotated()).toBe(0);
    now += 5001;
    const resealing = store.resealIfRotated();
    await store.remove("r2");
    expect(await resealing).toBe(1);
    expect(sealedWith(dataDir, "r1")).toBe(current);
    expect(existsSync(recordFile(dataDir, "r2"))).toBe(false);
    await store.save(record("r3"));
    expect(sealedWith(dataDir, "r3")).toBe(current);
    expect(records.some((r) => r.msg.includes(`"${current}" is current`))).toBe(true);
    expect(await store.resealIfRotated()).toBe(0);
  });

  test("a running meshStack connection reseals what its outbox holds after a rotation, the old key is retired, and the run is still reported", async () => {
    const dataDir = dataDirOf();
    const fake = await startFake();
    const pending = await claimedRecord(fake, "reported after the rotation");
    await new RunOutboxStore(dataDir, outboxKeyRing(config(dataDir))).save(pending);
    const oldId = sealedWith(dataDir, pending.uuid)!;
    fake.updateOutage = true;
    let now = 1_000_000;
    const { logger } = memoryLogger("error");
    await startAdapter({ fake, dataDir, runner: false, cipher: outboxKeys(config(dataDir), logger, () => now) });
    const { current } = await rotateAtRestKey(keyFile(dataDir), "meshStack outbox");
    now += 31_000; // past the default keyRingCheckMs
    await eventually(() => (sealedWith(dataDir, pending.uuid) === current ? true : undefined), 10_000, "record resealed");
    expect((await keys(["retire", "--outbox", "--data-dir", dataDir, oldId])).code).toBe(0);
    fake.updateOutage = false;
    const run = await eventually(ended(fake, pending.uuid), 15_000, "run ended");
    expect(run.summary).toBe("reported after the rotation");
  }, 30_000);
});

describe("meshstackCheck (doctor)", () => {
  test("names each outbox key, how many records it seals, and when a retained one can be retired", async () => {
    const dataDir = dataDirOf();
    const fake = await startFake();
    const secretFile = join(dataDir, "client-secret");
    const runnerKeyFile = join(dataDir, "runner-key.pem");
    writeFileSync(secretFile, "csecret", { mode: 0o600 });
    writeFileSync(runnerKeyFile, runnerKeys().privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
    const c = config(dataDir, ["--controller-kind", "meshstack", "--controller-url", fake.url, "--runner-id", fake.runnerUuid, "--meshstack-client-id", "cid", "--api-key-file", secretFile, "--runner-key-file", runnerKeyFile]);
    const doctor = () => meshstackCheck.run({ argv: [], env: {}, readFile: (p) => readFileSync(p, "utf8"), uid: process.getuid?.(), timeoutMs: 5000, state: { config: c } });
    expect((await doctor()).summary).toContain("no outbox key yet");
    const old = outboxKeyRing(c);
    await new RunOutboxStore(dataDir, old).save(record("r1"));
    const { current } = await rotateAtRestKey(keyFile(dataDir), "meshStack outbox");
    const before = await doctor();
    expect(before.status).toBe("pass");
    expect(before.summary).toContain(`outbox keys "${current}" current (0 records), "${old.current.id}" retained, still sealing 1 record`);
    await new RunOutboxStore(dataDir, outboxKeyRing(c)).load(() => {});
    expect((await doctor()).summary).toContain(`"${current}" current (1 record), "${old.current.id}" retained, sealing none ("edge-runner keys retire --outbox ${old.current.id}" removes it)`);
  });
});
