// The durable outbox's files: what a restarted runner finds, and how unsent updates merge.

import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mergeUpdates, RunOutboxStore, type RunRecord } from "../../src/controller/meshstack/outbox.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { tempDir } from "../helpers/harness.ts";

const dirs: Array<() => void> = [];
const key = () => new AtRestCipher(randomBytes(32), "meshStack outbox");
afterEach(() => dirs.splice(0).forEach((remove) => remove()));

function record(uuid: string, claimedAt: number): RunRecord {
  return { uuid, runToken: "t", registerUrl: "http://127.0.0.1/r", updateUrl: "http://127.0.0.1/u", claimedAt, phase: "running", workspace: "ws", implementationType: "MANUAL", nextSeq: 2, pending: [{ seq: 1, kind: "register", body: {} }] };
}

describe("RunOutboxStore", () => {
  test("load() returns records oldest claim first, removes temporary files a crash left, and reports a bad file", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const store = new RunOutboxStore(t.dir, key());
    await store.save(record("b", 2));
    await store.save(record("a", 1));
    writeFileSync(join(store.dir, ".b.run.json.abc123.tmp"), "{half");
    writeFileSync(join(store.dir, "c.run.json"), "not json");
    const bad: string[] = [];
    const loaded = await store.load((file) => bad.push(file));
    expect(loaded.map((r) => r.uuid)).toEqual(["a", "b"]);
    expect(bad).toEqual([join(store.dir, "c.run.json")]);
    expect(readdirSync(store.dir).sort()).toEqual(["a.run.json", "b.run.json", "c.run.json"]);
    await store.remove("a");
    expect((await store.load(() => {})).map((r) => r.uuid)).toEqual(["b"]);
  });

  test("a record far over the cap (an 8 GiB sparse file) is refused by its size before it is read: reported with its size and the cap, left in place, counted unknown", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const store = new RunOutboxStore(t.dir, key());
    await store.save(record("a", 1));
    const huge = join(store.dir, "huge.run.json");
    writeFileSync(huge, "");
    truncateSync(huge, 8 * 1024 ** 3);
    const bad: Array<[string, string]> = [];
    expect((await store.load((file, reason) => bad.push([file, reason]))).map((r) => r.uuid)).toEqual(["a"]);
    expect(bad).toEqual([[huge, `The file "${huge}" is ${8 * 1024 ** 3} bytes, over the cap of ${64 * 1024 * 1024} bytes for it; not read`]]);
    expect((await store.keyUsage()).unknown).toBe(1);
    expect(readdirSync(store.dir).sort()).toEqual(["a.run.json", "huge.run.json"]);
  });

  test("a run uuid that is not a plain file name (a claimed run failed for it) is stored under a name made from its hash, inside the outbox, and loaded and removed by its uuid", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const store = new RunOutboxStore(t.dir, key());
    const uuid = "../../escaped/run:1";
    await store.save(record(uuid, 1));
    const names = readdirSync(store.dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^~[0-9a-f]{64}\.run\.json$/);
    expect(readdirSync(t.dir)).toEqual(["meshstack"]);
    expect((await store.load(() => {})).map((r) => r.uuid)).toEqual([uuid]);
    await store.remove(uuid);
    expect(readdirSync(store.dir)).toEqual([]);
  });

  test("a missing directory is an empty outbox", async () => {
    expect(await new RunOutboxStore("/nonexistent/edge-runner", key()).load(() => {})).toEqual([]);
  });

  test("save() seals the run token and the pending updates; the run, phase, workspace and type stay in clear; load() opens them", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const cipher = key();
    const store = new RunOutboxStore(t.dir, cipher);
    const saved = { ...record("a", 1), runToken: "run-token-Zq81xWv", pending: [{ seq: 1, kind: "patch" as const, body: { status: "SUCCEEDED", artifact: "UExBTi1ieXRlcw==" }, final: true }] };
    await store.save(saved);
    const text = readFileSync(join(store.dir, "a.run.json"), "utf8");
    for (const secret of ["run-token-Zq81xWv", "SUCCEEDED", "UExBTi1ieXRlcw=="]) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ v: 2, uuid: "a", phase: "running", workspace: "ws", implementationType: "MANUAL", claimedAt: 1 });
    expect(await new RunOutboxStore(t.dir, cipher).load(() => {})).toEqual([saved]);
  });

  test("load() resumes a record of the previous format even when resealing it fails (its next write seals it)", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    class CannotWrite extends AtRestCipher {
      override seal(): string {
        throw new Error("No space left on device");
      }
    }
    const store = new RunOutboxStore(t.dir, new CannotWrite(randomBytes(32), "meshStack outbox"));
    mkdirSync(store.dir, { recursive: true });
    writeFileSync(join(store.dir, "a.run.json"), JSON.stringify({ v: 1, ...record("a", 1) }));
    const bad: string[] = [];
    expect(await store.load((file) => bad.push(file))).toEqual([record("a", 1)]);
    expect(bad).toEqual([]);
  });

  test("a sealed part moved into another run's file does not open, and the file is reported, not loaded or removed", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const store = new RunOutboxStore(t.dir, key());
    await store.save(record("a", 1));
    await store.save(record("b", 2));
    const a = JSON.parse(readFileSync(join(store.dir, "a.run.json"), "utf8")) as { sealed: string };
    const b = JSON.parse(readFileSync(join(store.dir, "b.run.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(store.dir, "b.run.json"), JSON.stringify({ ...b, sealed: a.sealed }));
    const bad: string[] = [];
    expect((await store.load((file, reason) => bad.push(`${file}: ${reason}`))).map((r) => r.uuid)).toEqual(["a"]);
    expect(bad).toEqual([`${join(store.dir, "b.run.json")}: Cannot open the stored value of "meshstack run b": the meshStack outbox key file does not match or the value was altered`]);
    expect(readdirSync(store.dir).sort()).toEqual(["a.run.json", "b.run.json"]);
  });
});

describe("AtRestCipher", () => {
  test("open() names whose key file does not match: the controller's by default, the meshStack outbox's for the runner", () => {
    const sealed = key().seal("value", "ctx");
    expect(() => new AtRestCipher(randomBytes(32)).open(sealed, "ctx")).toThrow("the controller key file does not match");
    expect(() => key().open(sealed, "ctx")).toThrow("the meshStack outbox key file does not match");
  });
});

describe("mergeUpdates()", () => {
  test("upserts steps by id (later fields win), replaces top-level fields, keeps step order", () => {
    const merged = mergeUpdates(
      { status: "IN_PROGRESS", steps: [{ id: "a", status: "IN_PROGRESS", userMessage: "one" }, { id: "b", status: "PENDING" }] },
      { status: "SUCCEEDED", summary: "done", steps: [{ id: "a", status: "SUCCEEDED" }, { id: "c", status: "SUCCEEDED" }] },
    );
    expect(merged).toEqual({
      status: "SUCCEEDED",
      summary: "done",
      steps: [{ id: "a", status: "SUCCEEDED", userMessage: "one" }, { id: "b", status: "PENDING" }, { id: "c", status: "SUCCEEDED" }],
    });
  });
});
