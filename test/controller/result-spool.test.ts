// The runner's result spool without processes: when a result is written, what is on disk, what a
// restart gets back, and what it refuses (test/reliability/result-restart.test.ts kills real ones).

import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ResultSpool } from "../../src/controller/edge/result-spool.ts";
import { JobOutbox } from "../../src/controller/edge/job-outbox.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { RunnerMessage } from "../../src/protocol/edge-v1.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-result-spool-");
afterAll(tmp.remove);
const offer = (id: string) => ({ id, attempt: 2, group: "g", plugin: "echo", action: "default", input: { token: "in-the-input" }, leaseExpiresAt: 1, submittedAt: 1 });
const files = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };

function spool(dir: string, apiKey = "key-1") {
  const { logger, records } = memoryLogger("debug");
  let wake: () => void = () => {};
  const sleep = () => new Promise<void>((resolve) => (wake = resolve));
  return { spool: new ResultSpool({ dir, apiKey, logger, sleep }), records, wake: () => wake() };
}

async function finished(s: ResultSpool, id: string, connected: boolean): Promise<JobOutbox> {
  const job = new JobOutbox(offer(id), () => connected, (done) => s.answered(done), { onResult: (o) => s.resultPending(o, connected) });
  job.log([{ ts: 1, level: "info", msg: "the line before the result" }]);
  void job.complete({ status: "succeeded", output: { sensitive: "value-42" }, startedAt: 1, finishedAt: 2 });
  await Bun.sleep(20);
  return job;
}

test("a result finished without a session is saved at once, sealed; a restart with the same API key replays it and its answer removes the file", async () => {
  const dir = path.join(tmp.dir, "offline");
  const first = spool(dir);
  await finished(first.spool, "j-offline", false);
  expect(files(dir)).toHaveLength(1);
  const text = readFileSync(path.join(dir, files(dir)[0]!), "utf8");
  for (const plain of ["value-42", "in-the-input", "the line before the result", "succeeded"]) expect(text).not.toContain(plain);

  const sent: RunnerMessage[] = [];
  const again = spool(dir);
  const [restored, ...none] = await again.spool.restore((m) => void sent.push(...m), (done) => again.spool.answered(done));
  expect(none).toEqual([]);
  expect(restored!.key).toBe("j-offline#2");
  expect(restored!.pending().map((m) => m.type)).toEqual(["log", "result"]);
  expect(restored!.pending().at(-1)).toMatchObject({ type: "result", lastSeq: 1, output: { sensitive: "value-42" } });
  expect(restored!.holdsLease).toBe(true);
  expect(restored!.resultAnswered(true, undefined)).toBe("done");
  await Bun.sleep(20);
  expect(files(dir)).toEqual([]);
});

test("with a session, a result is saved only once it waited unanswered; one answered in time never touches the disk", async () => {
  const dir = path.join(tmp.dir, "online");
  const s = spool(dir);
  const tick = async () => {
    s.wake();
    await Bun.sleep(20);
  };
  const answered = await finished(s.spool, "j-quick", true);
  answered.resultAnswered(true, undefined);
  await tick();
  await tick();
  expect(files(dir)).toEqual([]);
  await finished(s.spool, "j-slow", true);
  // A whole period unanswered: the first tick only marks it due.
  await tick();
  expect(files(dir)).toEqual([]);
  await tick();
  expect(files(dir)).toHaveLength(1);
});

test("a file sealed with another API key, or altered, is reported and left in place; nothing is replayed", async () => {
  const dir = path.join(tmp.dir, "other-key");
  await finished(spool(dir, "old-key").spool, "j-old", false);
  const [name] = files(dir);
  const { spool: s, records } = spool(dir, "new-key");
  expect(await s.restore(() => true, () => undefined)).toEqual([]);
  expect(records.some((r) => r.level === "error" && String(r.msg).includes("sealed with another API key"))).toBe(true);
  expect(files(dir)).toEqual([name!]);
  const file = path.join(dir, name!);
  const saved = JSON.parse(readFileSync(file, "utf8")) as { sealed: string };
  writeFileSync(file, JSON.stringify({ ...saved, key: "j-other#1" }));
  expect(await spool(dir, "old-key").spool.restore(() => true, () => undefined)).toEqual([]);
});
