// The reference controller's growing files have bounds too (src/reference-controller/store-file-bounds.ts):
// journals are replayed a line at a time with a per-line cap (a longer line is corrupt, a torn
// last line is cut, as before), the snapshot and secrets.json are refused by their size before a
// byte is read, and a page of a job's log is capped in bytes. Each huge file here is sparse; it
// was read whole before (ENOMEM, the controller did not start).

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { GroupCommit, SYNCHRONOUS } from "../../src/reference-controller/group-commit.ts";
import { JobLogs, type JobEvent } from "../../src/reference-controller/job-logs.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { encryptSecretInputs } from "../../src/reference-controller/secret-inputs.ts";
import { MAX_SECRETS, MAX_SECRETS_FILE_BYTES, SecretStore } from "../../src/reference-controller/secret-store.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { MAX_EVENT_LINE_BYTES, MAX_JOURNAL_LINE_BYTES, MAX_LOG_PAGE_BYTES, MAX_SNAPSHOT_BYTES, MAX_STORED_INPUT_BYTES } from "../../src/reference-controller/store-file-bounds.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { RunnerKeyRing, rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { tempDir } from "../helpers/harness.ts";
import { GIB8, hugeFile, hugeLine, longLine, thrown } from "../helpers/huge-files.ts";

const tmp = tempDir("rc-growing-files-");
afterAll(tmp.remove);
let dirs = 0;
const newDir = (): string => fs.mkdirSync(path.join(tmp.dir, `d${++dirs}`), { recursive: true }) as string;

const job = (id: string, queueSeq: number): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});
const jobLine = (id: string, queueSeq: number): string => JSON.stringify({ t: "job", job: job(id, queueSeq) });
const event = (jobId: string, seq: number, msg: string): string =>
  JSON.stringify({ jobId, seq, attempt: 1, attemptSeq: seq, type: "log", lines: [{ ts: 1, level: "info", msg }] });

function openLogs(dir: string) {
  const { logger, records } = memoryLogger();
  const commits = new GroupCommit({ logger, ...SYNCHRONOUS });
  return { logs: new JobLogs({ dir: path.join(dir, "events"), logger, commits }), commits, records };
}

const SLOW = 60_000;
/**
 * A journal line past any cap and past the 4 GiB one Buffer holds, so the whole-file read before
 * failed (ENOMEM) and the controller did not start; each test scans it (about 2 s of a core).
 */
const HUGE = 4.5 * 1024 ** 3;

test("ControllerStore.open() refuses an 8 GiB snapshot.json unread: config_invalid naming it, its size and the cap", () => {
  const dir = newDir();
  const file = hugeFile(dir, "snapshot.json");
  const error = thrown(() => ControllerStore.open({ dir, logger: memoryLogger().logger }));
  expect(error.code).toBe("config_invalid");
  expect(error.message).toBe(`Cannot load the controller's snapshot: The file "${file}" is ${GIB8} bytes, over the cap of ${MAX_SNAPSHOT_BYTES} bytes for it; not read (the largest snapshot this controller can write): it is not this store's`);
});

test("edge-runner controller exits 78 (config) on an 8 GiB snapshot.json or secrets.json, with one line naming the file, its size and the cap", async () => {
  for (const name of ["snapshot.json", "secrets.json"]) {
    const dataDir = newDir();
    fs.mkdirSync(path.join(dataDir, "controller"));
    const file = hugeFile(path.join(dataDir, "controller"), name);
    let stderr = "";
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(["controller", "--data-dir", dataDir, "--listen-port", "0", "--log-level", "error"]);
    } finally {
      process.stderr.write = write;
    }
    expect({ name, code }).toEqual({ name, code: 78 });
    expect(stderr).toStartWith(`edge-runner controller: Cannot load the controller's ${name === "snapshot.json" ? "snapshot" : "secrets"}: The file "${file}" is ${GIB8} bytes, over the cap of `);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  }
});

test("ControllerStore does not write a snapshot over the cap it reads one with: the compaction fails, counted, and the journal stays whole", () => {
  const dir = newDir();
  const { logger } = memoryLogger();
  const store = ControllerStore.open({ dir, logger, snapshotMaxBytes: 2000, compactAfter: 1 });
  store.putJobs(Array.from({ length: 20 }, (_, i) => job(`j${i}`, i + 1)));
  expect(store.compaction.failures).toBe(1);
  expect(store.compaction.lastError).toMatch(/^Error: Cannot write a snapshot of \d+ bytes: over the cap of 2000 bytes for reading it back at start; the journal stays whole$/);
  expect(fs.existsSync(path.join(dir, "snapshot.json"))).toBe(false);
  store.close();
  const again = ControllerStore.open({ dir, logger, snapshotMaxBytes: 2000 });
  expect(again.jobs.size).toBe(20);
  again.close();
});

test("ControllerStore.open() skips a journal line over the cap as a corrupt one, logged with the cap, and replays the records around it", () => {
  const dir = newDir();
  const file = longLine(dir, "journal.jsonl", `${jobLine("before", 1)}\n`, `\n${jobLine("after", 2)}\n`, MAX_JOURNAL_LINE_BYTES + 1);
  const size = fs.statSync(file).size;
  const { logger, records } = memoryLogger();
  const store = ControllerStore.open({ dir, logger });
  expect([...store.jobs.keys()].sort()).toEqual(["after", "before"]);
  expect(records.find((r) => r.level === "error")).toMatchObject({ msg: "Skipping a corrupt line in a journal file", file, line: 2, reason: `over the cap of ${MAX_JOURNAL_LINE_BYTES} bytes for a line` });
  // A corrupt line in the middle is not cut: only a torn last line is.
  expect(fs.statSync(file).size).toBe(size);
  store.close();
}, SLOW);

test("ControllerStore.open() cuts a 4.5 GiB tail of zeros (a journal grown ahead of its data) at the end of the data, unread whole and without a warning, and appends cleanly after it", () => {
  const dir = newDir();
  const head = `${jobLine("whole", 1)}\n`;
  const file = hugeLine(dir, "journal.jsonl", head, "", HUGE);
  const { logger, records } = memoryLogger();
  const store = ControllerStore.open({ dir, logger });
  expect([...store.jobs.keys()]).toEqual(["whole"]);
  expect(records.filter((r) => r.level === "warn" || r.level === "error")).toEqual([]);
  expect(fs.statSync(file).size).toBe(head.length);
  store.putJobs([job("next", 2)]);
  store.close();
  const again = ControllerStore.open({ dir, logger });
  expect([...again.jobs.keys()].sort()).toEqual(["next", "whole"]);
  again.close();
}, SLOW);

test("ControllerStore.open() cuts a 4.5 GiB torn last journal line, with a warning, and appends cleanly after it", () => {
  const dir = newDir();
  const head = `${jobLine("whole", 1)}\n`;
  const file = longLine(dir, "journal.jsonl", head, "", 1024);
  fs.truncateSync(file, HUGE);
  const { logger, records } = memoryLogger();
  const store = ControllerStore.open({ dir, logger });
  expect([...store.jobs.keys()]).toEqual(["whole"]);
  expect(records.find((r) => r.level === "warn")).toMatchObject({ msg: "Skipping a torn last line (a crash mid-write) in a journal file", file, bytes: 1024 });
  expect(fs.statSync(file).size).toBe(head.length);
  store.putJobs([job("next", 2)]);
  store.close();
  const again = ControllerStore.open({ dir, logger });
  expect([...again.jobs.keys()].sort()).toEqual(["next", "whole"]);
  again.close();
}, SLOW);

test("JobLogs skips an event line over the cap as a corrupt one, logged with the cap, and indexes the events around it", () => {
  const dir = newDir();
  fs.mkdirSync(path.join(dir, "events"));
  const file = longLine(path.join(dir, "events"), "000001.jsonl", `${event("j1", 1, "one")}\n`, `\n${event("j1", 2, "two")}\n`, MAX_EVENT_LINE_BYTES + 1);
  const { logs, commits, records } = openLogs(dir);
  expect(logs.read("j1", 0, 10).map((e) => e.type === "log" && e.lines[0]?.msg)).toEqual(["one", "two"]);
  expect(records.find((r) => r.level === "error")).toMatchObject({ msg: "Skipping a corrupt line in the event journal", file, line: 2, reason: `over the cap of ${MAX_EVENT_LINE_BYTES} bytes for a line` });
  commits.close();
}, SLOW);

test("JobLogs cuts a 4.5 GiB torn last event line (its text, then zeros), with a warning", () => {
  const dir = newDir();
  fs.mkdirSync(path.join(dir, "events"));
  const head = `${event("j1", 1, "one")}\n`;
  const file = longLine(path.join(dir, "events"), "000001.jsonl", head, "", 1024);
  fs.truncateSync(file, HUGE);
  const { logs, commits, records } = openLogs(dir);
  expect(logs.cursor("j1", 1)).toEqual({ count: 1, attempt: 1, highestSeq: 1 });
  expect(records.find((r) => r.level === "warn")).toMatchObject({ msg: "Skipping a torn last line (a crash mid-write) in the event journal", file, bytes: 1024 });
  expect(fs.statSync(file).size).toBe(head.length);
  commits.close();
}, SLOW);

test("The line caps are above the largest records the controller lets in: a 44 MiB job record (its input and output past 1 MiB kept) and a 12 MiB event replay whole", () => {
  const dir = newDir();
  const { logger, records } = memoryLogger();
  // A 32 MiB input (secret inputs encrypted in) and a result of 4 Mi characters of 3 bytes each.
  // Until 2026-12-02 replay dropped both: it measured them with the 1 MiB of a plain value.
  const big: StoredJob = { ...job("big", 1), input: { s: "i".repeat(MAX_STORED_INPUT_BYTES - 10) }, output: { o: "€".repeat(4 * 1024 * 1024 - 10) }, status: "succeeded" };
  const store = ControllerStore.open({ dir, logger });
  store.putJobs([big]);
  store.close();
  expect(fs.statSync(path.join(dir, "journal.jsonl")).size).toBeGreaterThan(44 * 1024 * 1024);
  const again = ControllerStore.open({ dir, logger });
  expect((again.jobs.get("big")?.output as { o: string }).o.length).toBe(4 * 1024 * 1024 - 10);
  expect((again.jobs.get("big")?.input as { s: string }).s.length).toBe(MAX_STORED_INPUT_BYTES - 10);
  again.close();

  const logs = openLogs(dir);
  logs.logs.append("j1", [{ seq: 1, attempt: 1, attemptSeq: 1, type: "log", lines: [{ ts: 1, level: "info", msg: "€".repeat(4 * 1024 * 1024 - 100) }] }]);
  logs.commits.close();
  const reopened = openLogs(dir);
  expect(reopened.logs.cursor("j1", 1)).toEqual({ count: 1, attempt: 1, highestSeq: 1 });
  reopened.commits.close();
  expect([...records, ...reopened.records].filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
}, SLOW);

test("JobLogs.read() ends a page before the event that would pass MAX_LOG_PAGE_BYTES, and the next pages from nextSeq hold the rest", () => {
  const dir = newDir();
  const { logs, commits } = openLogs(dir);
  const msg = "x".repeat(1024 * 1024);
  const count = 40;
  for (let seq = 1; seq <= count; seq++) logs.append("j1", [{ seq, attempt: 1, attemptSeq: seq, type: "log", lines: [{ ts: 1, level: "info", msg }] }]);
  const pages: JobEvent[][] = [];
  for (let after = 0; ;) {
    const page = logs.read("j1", after, 10_000);
    if (page.length === 0) break;
    pages.push(page);
    after = page.at(-1)?.seq as number;
  }
  expect(pages.length).toBeGreaterThan(1);
  for (const page of pages) expect(page.reduce((sum, e) => sum + JSON.stringify(e).length, 0)).toBeLessThanOrEqual(MAX_LOG_PAGE_BYTES);
  expect(pages.flat().map((e) => e.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  // The limit still applies, and a page is never empty while an event is left.
  expect(logs.read("j1", 0, 3).map((e) => e.seq)).toEqual([1, 2, 3]);
  commits.close();
}, SLOW);

test("SecretStore refuses an 8 GiB secrets.json unread: config_invalid naming it, its size and the cap", () => {
  const dir = newDir();
  const file = hugeFile(dir, "secrets.json");
  const cipher = new AtRestCipher(Buffer.alloc(32, 7));
  const error = thrown(() => new SecretStore(dir, cipher));
  expect(error.code).toBe("config_invalid");
  expect(error.message).toBe(`Cannot load the controller's secrets: The file "${file}" is ${GIB8} bytes, over the cap of ${MAX_SECRETS_FILE_BYTES} bytes for it; not read (${MAX_SECRETS} secrets of 64 KiB, sealed)`);
});

test("SecretStore keeps at most MAX_SECRETS: a new name past it is refused (conflict), a stored one can still be replaced", async () => {
  const dir = newDir();
  const cipher = new AtRestCipher(Buffer.alloc(32, 7));
  const values: Record<string, string> = {};
  for (let i = 0; i < MAX_SECRETS; i++) values[`s${i}`] = cipher.seal("v", `s${i}`);
  fs.writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ v: 2, values }), { mode: 0o600 });
  const store = new SecretStore(dir, cipher);
  const refused = await store.set("one-more", "v").then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("conflict");
  expect(refused?.message).toBe(`Cannot store secret "one-more": the controller's secret file holds ${MAX_SECRETS} secrets, the most it keeps (${MAX_SECRETS}); delete one first`);
  await store.set("s0", "new value");
  expect(await store.get("s0")).toBe("new value");
  expect(await store.names()).toMatchObject({ truncated: false, names: { length: MAX_SECRETS } });
});

test("MAX_SECRETS_FILE_BYTES holds MAX_SECRETS secrets of the longest name and value, as the store writes them", async () => {
  const dir = newDir();
  const cipher = new AtRestCipher(Buffer.alloc(32, 7));
  const store = new SecretStore(dir, cipher);
  await store.set("n".repeat(127) + "1", "é".repeat(32 * 1024));
  await store.set("n".repeat(127) + "2", "v".repeat(64 * 1024));
  const bytes = fs.statSync(path.join(dir, "secrets.json")).size;
  // Two of the longest entries and the file's frame: the cap is exactly MAX_SECRETS of them.
  const entry = (MAX_SECRETS_FILE_BYTES - 64) / MAX_SECRETS;
  expect(bytes).toBeLessThanOrEqual(2 * entry + 64);
  expect(bytes).toBeGreaterThan(2 * entry - 8);
});

test("encryptSecretInputs() refuses an input that would be over MAX_STORED_INPUT_BYTES once encrypted to every runner key: too_large, naming the size and the keys", async () => {
  const ringDir = await mkdtemp(path.join(tmpdir(), "rc-growing-ring-"));
  await rotateRunnerKey(ringDir, { modulusLength: 2048 });
  const key = (await RunnerKeyRing.load(ringDir)).publicJwks()[0]!;
  fs.rmSync(ringDir, { recursive: true, force: true });
  const secrets: Record<string, string> = {};
  for (let i = 0; i < 50; i++) secrets[`s${i}`] = "v".repeat(64 * 1024);
  const keys = Array.from({ length: 8 }, () => key);
  const refused = await encryptSecretInputs({}, secrets, keys, "big").then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("too_large");
  expect(refused?.message).toMatch(new RegExp(`^Cannot submit a job with secret inputs: its input with them encrypted to the 8 runner keys of group "big" is \\d+ bytes, over the limit of ${MAX_STORED_INPUT_BYTES}; send fewer or smaller secret inputs$`));
  // One key: 50 of them fit.
  const fits = await encryptSecretInputs({}, secrets, [key], "big");
  expect(Object.keys(fits)).toHaveLength(50);
}, SLOW);
