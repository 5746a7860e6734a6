// close() while a batch's thread-pool fsync runs, and that fsync then succeeds: every change made
// during it and acknowledged (durable(), registerRunner()) is in the journal after a restart.
// ControllerStore.close() used to drop its journal before that fsync answered, and the last
// batch, written then, went nowhere while it was acknowledged (a review of cbeee86 proved it).
import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { makeController, ManualCommits, tempDir, turns } from "./helpers.ts";

const job = (id: string, queueSeq: number): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});

function replayedJobs(dir: string): string[] {
  const { logger } = memoryLogger();
  const again = ControllerStore.open({ dir, logger });
  const ids = [...again.jobs.keys()].sort();
  void again.close();
  return ids;
}

test("ControllerStore.close() during a successful thread-pool fsync: a change made during it and acknowledged is replayed after restart", async () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const store = ControllerStore.open({ dir, logger, commits });
  store.putJobs([job("a", 1)]);
  manual.flush();
  expect(manual.held).toHaveLength(1);
  // A change during that fsync (an admin submit, a runner's result).
  store.putJobs([job("b", 2)]);
  const told = { b: "pending" };
  store.durable().then(() => (told.b = "acknowledged"), () => (told.b = "refused"));
  const closed = store.close();
  manual.completeFsyncs();
  await closed;
  await turns(1);
  const replayed = replayedJobs(dir);
  // Acknowledged => must be replayed.
  expect({ told, replayed }).toEqual({ told: { b: "acknowledged" }, replayed: ["a", "b"] });
});

test("ReferenceController.close() during a batch's fsync: a submission acknowledged by durable() survives a restart", async () => {
  const manual = new ManualCommits();
  const h = makeController({ commit: manual.options });
  h.controller.submitJob({ plugin: "echo" });
  manual.flush();
  expect(manual.held).toHaveLength(1);
  const second = h.controller.submitJob({ plugin: "echo" });
  const told = { second: "pending" };
  h.controller.durable().then(() => (told.second = "acknowledged"), () => (told.second = "refused"));
  const closing = h.controller.close();
  await turns();
  manual.completeFsyncs();
  await closing;
  const again = makeController({}, h.dataDir);
  const replayed = again.controller.getJob(second.id) !== undefined;
  await again.controller.close();
  expect({ told, replayed }).toEqual({ told: { second: "acknowledged" }, replayed: true });
});

test("Same with the real group commit (setImmediate schedule, fs.fdatasync on the thread pool): no manual fsync", async () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const commits = new GroupCommit({ logger }); // the production defaults
  const store = ControllerStore.open({ dir, logger, commits });
  store.putJobs([job("a", 1)]);
  const told = { b: "pending", inFlightAtClose: false };
  const closed = await new Promise<Promise<void>>((resolve) => setImmediate(() => {
    // The batch of "a" was written by the flush scheduled before this and its fdatasync is on the pool.
    told.inFlightAtClose = commits.batchInFlight;
    store.putJobs([job("b", 2)]);
    store.durable().then(() => (told.b = "acknowledged"), () => (told.b = "refused"));
    resolve(store.close());
  }));
  await closed;
  await turns(1);
  expect({ told, replayed: replayedJobs(dir) }).toEqual({ told: { b: "acknowledged", inFlightAtClose: true }, replayed: ["a", "b"] });
});

test("registerRunner() resolved during close(): the key it handed out works after a restart", async () => {
  const manual = new ManualCommits();
  const h = makeController({ commit: manual.options });
  h.controller.submitJob({ plugin: "echo" });
  manual.flush();
  expect(manual.held).toHaveLength(1);
  let apiKey: string | undefined;
  const registering = h.controller.registerRunner({ id: "r1", group: "default" }).then((created) => (apiKey = created.apiKey));
  const closing = h.controller.close();
  await turns();
  manual.completeFsyncs();
  await Promise.all([registering, closing]);
  expect(apiKey).toBeDefined();
  const again = makeController({}, h.dataDir);
  const works = again.controller.runners.authenticate("r1", apiKey) !== undefined;
  const listed = again.controller.listRunners().map((r) => r.id);
  await again.controller.close();
  expect({ works, listed }).toEqual({ works: true, listed: ["r1"] });
});
