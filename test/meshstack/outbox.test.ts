// The durable outbox's files: what a restarted runner finds, and how unsent updates merge.

import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mergeUpdates, RunOutboxStore, type RunRecord } from "../../src/controller/meshstack/outbox.ts";
import { tempDir } from "../helpers/harness.ts";

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((remove) => remove()));

function record(uuid: string, claimedAt: number): RunRecord {
  return { v: 1, uuid, runToken: "t", registerUrl: "http://127.0.0.1/r", updateUrl: "http://127.0.0.1/u", claimedAt, phase: "running", workspace: "ws", implementationType: "MANUAL", nextSeq: 2, pending: [{ seq: 1, kind: "register", body: {} }] };
}

describe("RunOutboxStore", () => {
  test("load() returns records oldest claim first, removes temporary files a crash left, and reports a bad file", async () => {
    const t = tempDir("outbox-");
    dirs.push(t.remove);
    const store = new RunOutboxStore(t.dir);
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

  test("a missing directory is an empty outbox", async () => {
    expect(await new RunOutboxStore("/nonexistent/edge-runner").load(() => {})).toEqual([]);
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
