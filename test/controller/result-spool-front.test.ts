// The spool's front: result-spool.ts is imported only when a saved result waits at start or a
// result must be saved, and nothing asked of it while it loads is lost or reordered.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ResultSpoolFront } from "../../src/controller/edge/result-spool-front.ts";
import { JobOutbox } from "../../src/controller/edge/job-outbox.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { RunnerMessage } from "../../src/protocol/edge-v1.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-result-spool-front-");
afterAll(tmp.remove);
const offer = (id: string) => ({ id, attempt: 1, group: "g", plugin: "echo", action: "default", input: {}, leaseExpiresAt: 1, submittedAt: 1 });
const files = (dir: string): string[] => { try { return readdirSync(dir).filter((n) => n.endsWith(".result.json")); } catch { return []; } };

/** A front whose import of result-spool.ts is counted and, with `gate`, held until released. */
function front(dir: string, gate?: Promise<void>) {
  const { logger, records } = memoryLogger("debug");
  const loads = { count: 0 };
  const sleep = () => new Promise<void>(() => {});
  const spool = new ResultSpoolFront({ dir, apiKey: "key-1", keyFile: `${dir}.key`, logger, sleep }, async () => {
    loads.count++;
    await gate;
    return import("../../src/controller/edge/result-spool.ts");
  });
  return { spool, loads, records };
}

function finished(s: ResultSpoolFront, id: string): JobOutbox {
  const job = new JobOutbox(offer(id), () => false, (done) => s.answered(done), { onResult: (o) => s.resultPending(o, false) });
  void job.complete({ status: "succeeded", output: {}, startedAt: 1, finishedAt: 2 });
  return job;
}

const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await Bun.sleep(5);
};

test("ResultSpoolFront.restore() with no results directory, an empty one or only foreign files does not load the spool", async () => {
  const missing = front(path.join(tmp.dir, "missing"));
  expect(await missing.spool.restore(() => true, () => undefined)).toEqual([]);
  const emptyDir = path.join(tmp.dir, "empty");
  mkdirSync(emptyDir, { recursive: true });
  writeFileSync(path.join(emptyDir, "notes.txt"), "not a result");
  const empty = front(emptyDir);
  expect(await empty.spool.restore(() => true, () => undefined)).toEqual([]);
  // Answers and a shutdown with nothing unanswered do not load it either.
  await empty.spool.saveAll([new JobOutbox(offer("running"), () => true, () => undefined)]);
  expect({ missing: missing.loads.count, empty: empty.loads.count, state: empty.spool.state }).toEqual({ missing: 0, empty: 0, state: "unloaded" });
});

test("ResultSpoolFront queues the calls made while the spool loads, in order: a saved result is written, an answered one removed", async () => {
  const dir = path.join(tmp.dir, "queued");
  let release: () => void = () => {};
  const s = front(dir, new Promise<void>((resolve) => (release = resolve)));
  const kept = finished(s.spool, "j-kept");
  const gone = finished(s.spool, "j-gone");
  await Bun.sleep(10);
  expect({ loads: s.loads.count, state: s.spool.state, files: files(dir) }).toEqual({ loads: 1, state: "loading", files: [] });
  // Answered while the spool still loads: its save and then its removal both run, in that order.
  expect(gone.resultAnswered(true, undefined)).toBe("done");
  release();
  await until(() => files(dir).length === 1);
  await Bun.sleep(20);
  expect(files(dir)).toHaveLength(1);
  expect(s.loads.count).toBe(1);
  // A restart finds the kept one, loads the spool for it and replays it before anything else.
  const again = front(dir);
  const sent: RunnerMessage[] = [];
  const [restored, ...none] = await again.spool.restore((m) => void sent.push(...m), () => undefined);
  expect({ loads: again.loads.count, key: restored?.key, none }).toEqual({ loads: 1, key: kept.key, none: [] });
});
