// The runner's result spool without processes: when a result is written, what is on disk, what a
// restart gets back, and what it refuses (test/reliability/result-restart.test.ts kills real ones).

import { afterAll, expect, test } from "bun:test";
import { hkdfSync } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ResultSpool } from "../../src/controller/edge/result-spool.ts";
import { JobOutbox } from "../../src/controller/edge/job-outbox.ts";
import { SPOOL_FILE_SUFFIX } from "../../src/controller/edge/result-spool-front.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { message, type RunnerMessage } from "../../src/protocol/edge-v1.ts";
import { MAX_OUTPUT_CHARS, MAX_UNACKED_LOG_CHARS } from "../../src/protocol/limits.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { eventually, tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-result-spool-");
afterAll(tmp.remove);
const offer = (id: string) => ({ id, attempt: 2, group: "g", plugin: "echo", action: "default", input: { token: "in-the-input" }, leaseExpiresAt: 1, submittedAt: 1 });
const files = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };

/** A spool in `dir`; its key file beside it (`<dir>.key`), as `<runnerKeyDir>/results.key` is beside `<dataDir>/results`. */
function spool(dir: string, apiKey = "key-1", keyFile = `${dir}.key`) {
  const { logger, records } = memoryLogger("debug");
  let wake: () => void = () => {};
  const sleep = () => new Promise<void>((resolve) => (wake = resolve));
  return { spool: new ResultSpool({ dir, apiKey, keyFile, logger, sleep }), records, wake: () => wake() };
}

async function finished(s: ResultSpool, id: string, connected: boolean): Promise<JobOutbox> {
  const job = new JobOutbox(offer(id), () => connected, (done) => s.answered(done), { onResult: (o) => s.resultPending(o, connected) });
  job.log([{ ts: 1, level: "info", msg: "the line before the result" }]);
  void job.complete({ status: "succeeded", output: { sensitive: "value-42" }, startedAt: 1, finishedAt: 2 });
  await Bun.sleep(20);
  // Every write begun so far has ended (a loaded machine took longer than the sleep).
  await s.saveAll([]);
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
  // The file goes when its removal ends (a loaded machine takes longer than any fixed tick).
  await eventually(() => (files(dir).length === 0 ? true : undefined), 10_000, "the answered result's file to go");
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
  // The second tick begins the write; wait for it, not for a fixed time.
  await eventually(() => (files(dir).length === 1 ? true : undefined), 10_000, "the unanswered result's file");
});

test("a file no key of the key file opens (the key file replaced), or altered, is reported and left in place; nothing is replayed", async () => {
  const dir = path.join(tmp.dir, "other-key");
  await finished(spool(dir, "key-1", path.join(tmp.dir, "first.key")).spool, "j-old", false);
  const [name] = files(dir);
  const { spool: s, records } = spool(dir, "key-1", path.join(tmp.dir, "second.key"));
  expect(await s.restore(() => true, () => undefined)).toEqual([]);
  const errors = records.filter((r) => r.level === "error").map((r) => String(r.msg));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain(`Cannot read the saved result "${path.join(dir, name!)}"; left in place: no key of "${path.join(tmp.dir, "second.key")}" opens it`);
  expect(files(dir)).toEqual([name!]);
  // What the error line says to do works: the first key file, put back under its id beside the new one.
  const sealedBy = (JSON.parse(readFileSync(path.join(dir, name!), "utf8")) as { sealedBy: string }).sealedBy;
  expect(errors[0]).toContain(`to send it, put that key file back as "${path.join(tmp.dir, `second.${sealedBy}.key`)}"`);
  copyFileSync(path.join(tmp.dir, "first.key"), path.join(tmp.dir, `second.${sealedBy}.key`));
  const [reopened] = await spool(dir, "key-1", path.join(tmp.dir, "second.key")).spool.restore(() => true, () => undefined);
  expect(reopened?.key).toBe("j-old#2");
  const file = path.join(dir, name!);
  const saved = JSON.parse(readFileSync(file, "utf8")) as { sealed: string };
  writeFileSync(file, JSON.stringify({ ...saved, key: "j-other#1" }));
  expect(await spool(dir, "key-1", path.join(tmp.dir, "first.key")).spool.restore(() => true, () => undefined)).toEqual([]);
  expect(files(dir)).toEqual([name!]);
});

test("a file of version 1 (sealed with a key derived from the API key) opens with that API key; with another it is reported and left in place", async () => {
  const dir = path.join(tmp.dir, "version-1");
  mkdirSync(dir, { recursive: true });
  const job = offer("j-v1");
  const messages = [message<RunnerMessage>({ type: "result", jobId: "j-v1", attempt: 2, lastSeq: 0, status: "succeeded", output: {}, startedAt: 1, finishedAt: 2 })];
  const legacy = new AtRestCipher(Buffer.from(hkdfSync("sha256", "old-key", Buffer.alloc(0), "edge-runner result spool", 32)));
  writeFileSync(path.join(dir, "0123456789abcdef.result.json"), JSON.stringify({ v: 1, key: "j-v1#2", sealed: legacy.seal(JSON.stringify({ job, messages }), "edge result j-v1#2") }));
  const other = spool(dir, "new-key");
  expect(await other.spool.restore(() => true, () => undefined)).toEqual([]);
  expect(other.records.some((r) => r.level === "error" && String(r.msg).includes("the current API key does not open it"))).toBe(true);
  expect(files(dir)).toHaveLength(1);
  const [restored] = await spool(dir, "old-key").spool.restore(() => true, () => undefined);
  expect(restored?.key).toBe("j-v1#2");
});

test("a result saved before the runner's API key changed (runner register --rotate) is replayed after it, not lost", async () => {
  const dir = path.join(tmp.dir, "api-key-rotated");
  await finished(spool(dir, "old-key").spool, "j-rotated", false);
  expect(files(dir)).toHaveLength(1);
  const sent: RunnerMessage[] = [];
  const again = spool(dir, "new-key");
  const [restored, ...none] = await again.spool.restore((m) => void sent.push(...m), (done) => again.spool.answered(done));
  expect({ key: restored?.key, none, errors: again.records.filter((r) => r.level === "error").map((r) => r.msg) }).toEqual({ key: "j-rotated#2", none: [], errors: [] });
  expect(restored!.pending().map((m) => m.type)).toEqual(["log", "result"]);
});

test("a key file other users can read is refused: the result is not written, the error says why, and the next save reads the file again", async () => {
  const dir = path.join(tmp.dir, "open-key-file");
  const keyFile = path.join(tmp.dir, "open.key");
  writeFileSync(keyFile, Buffer.alloc(32, 7).toString("base64") + "\n", { mode: 0o644 });
  chmodSync(keyFile, 0o644);
  const first = spool(dir, "key-1", keyFile);
  await finished(first.spool, "j-refused", false);
  expect(files(dir)).toEqual([]);
  expect(first.records.some((r) => r.level === "error" && String(r.msg).includes(`Cannot save the result of job attempt "j-refused#2"`) && String(r.msg).includes(`Refusing result spool key file "${keyFile}"`))).toBe(true);
  chmodSync(keyFile, 0o600);
  await finished(first.spool, "j-after-fix", false);
  expect(files(dir)).toHaveLength(1);
});

test("a saved result far over the cap (an 8 GiB sparse file) is refused by its size before it is read: reported with its size and the cap, left in place", async () => {
  const dir = path.join(tmp.dir, "huge");
  await finished(spool(dir).spool, "j-kept", false);
  const huge = path.join(dir, `huge${SPOOL_FILE_SUFFIX}`);
  writeFileSync(huge, "");
  truncateSync(huge, 8 * 1024 ** 3);
  const { spool: s, records } = spool(dir);
  const restored = await s.restore(() => true, () => undefined);
  expect(restored.map((o) => o.key)).toEqual(["j-kept#2"]);
  const errors = records.filter((r) => r.level === "error").map((r) => String(r.msg));
  expect(errors).toEqual([`Cannot read the saved result "${huge}"; left in place: The file "${huge}" is ${8 * 1024 ** 3} bytes, over the cap of ${Math.ceil((((MAX_UNACKED_LOG_CHARS + MAX_OUTPUT_CHARS) * 6 + 1024 * 1024) * 4) / 3)} bytes for it; not read`]);
  expect(files(dir)).toContain(`huge${SPOOL_FILE_SUFFIX}`);
});

test("a saved result as large as the outbox holds (8 Mi characters of coloured CJK lines: 6 bytes for \\x1b in JSON) is under the cap and replayed whole", async () => {
  const dir = path.join(tmp.dir, "largest");
  const { spool: s } = spool(dir);
  const job = new JobOutbox(offer("j-big"), () => false, (done) => s.answered(done), { onResult: (o) => s.resultPending(o, false) });
  const msg = "漢\x1b".repeat(30_000);
  const lines = Math.floor(MAX_UNACKED_LOG_CHARS / (msg.length + 40));
  for (let i = 0; i < lines; i++) job.log([{ ts: 1, level: "info", msg }]);
  void job.complete({ status: "succeeded", output: {}, startedAt: 1, finishedAt: 2 });
  // Sealing and writing 50 MB takes seconds on a loaded 2-core machine.
  await eventually(() => files(dir).length === 1 || undefined, 60_000, "the saved result");
  await s.saveAll([]);
  const size = statSync(path.join(dir, files(dir)[0]!)).size;
  expect(size).toBeGreaterThan(32 * 1024 * 1024);
  const { spool: again, records } = spool(dir);
  const [restored] = await again.restore(() => true, () => undefined);
  expect(records.filter((r) => r.level === "error")).toEqual([]);
  expect(restored?.pending().filter((m) => m.type === "log").reduce((n, m) => n + (m as { lines: unknown[] }).lines.length, 0)).toBe(lines);
}, 120_000);
