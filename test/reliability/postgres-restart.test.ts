// Issue 16: the controller's PostgreSQL restarted under a stream of jobs. While it is down the
// controller is `failed` and refuses changes with 503 (store_unavailable), acknowledges nothing
// that did not commit, reconnects with backoff, reloads its view from the database (memory may be
// ahead of what committed) and ends sessions, so the runner reconnects and replays its outbox.
// Counted at the end: jobs lost, final results duplicated, acknowledgements without a commit.

import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { memoryLogger, type LogRecord } from "../../src/log/logger.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";

const cleanups: Array<() => Promise<void> | void> = [];
// Set while the test runs, cleared once it passed: a failure (a timeout too) prints what the
// controller logged, so a rare failure under load leaves its cause behind.
let whenFailed: (() => Promise<void>) | undefined;
// Bounded by design above bun's 5 s for a hook: the runner's drain (10 s at most), the store's
// close (5 s for its connections), a server start after a failed test (pg_ctl waits up to 60 s).
afterEach(async () => {
  await whenFailed?.().catch((error: unknown) => console.error(`Cannot print the failed run's diagnostics: ${String(error)}`));
  whenFailed = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) {
    const started = Date.now();
    await cleanup();
    if (Date.now() - started > 3_000) console.error(`postgres-restart: a cleanup took ${Date.now() - started} ms: ${cleanup.toString().slice(0, 80)}`);
  }
}, 90_000);

const line = (r: LogRecord) => {
  const { ts, level, msg, ...fields } = r;
  return `${ts.slice(11, 23)} ${level} ${msg} ${JSON.stringify(fields).slice(0, 400)}`;
};

const JOBS = 60;

forEachStore("PostgreSQL restarted under load", (store) => {
  test(`${JOBS} jobs submitted while the database restarts: 0 lost, 0 duplicated final results, 0 acknowledged without a commit`, async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    // A lease whose offer was committed but never delivered (the connection died in between) is
    // re-queued when it expires after the reconnect's grace, as after an embedded controller's
    // crash: short here, so the test sees those jobs finish too.
    const { logger, records } = memoryLogger("info");
    const { controller } = await startController({ dataDir: tmp.dir, ...(await store.options()), logger, leaseTtlMs: 4_000, leaseGraceMs: 4_000, heartbeatIntervalMs: 1_000 });
    cleanups.push(() => controller.close());
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
    // Every run of every job, counted by the runner: a job run twice would show here.
    const runs = new Map<string, number>();
    const executor: JobExecutor = {
      async run(request) {
        const n = (runs.get(request.jobId) ?? 0) + 1;
        runs.set(request.jobId, n);
        await Bun.sleep(20);
        return { status: "succeeded", output: { run: n, attempt: request.attempt } };
      },
      workers: () => [],
      close: async () => {},
    };
    const { runner, connection, records: runnerRecords } = startRunner({ controller, executor, concurrency: 4 });
    cleanups.push(() => runner.drain());
    await eventually(() => (runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");

    const acked: string[] = [];
    let refused = 0;
    const states = new Set<string>();
    whenFailed = async () => {
      const server = store.server!;
      const sql = store.sql();
      const backends = server.running()
        ? await sql<Array<{ pid: number; state: string | null; xact: string | null; query: string }>>`
            SELECT pid, state, xact_start::text AS xact, left(query, 80) AS query FROM pg_stat_activity WHERE application_name = 'edge-runner controller'`
          .then((rows) => rows.map((r) => `${r.pid} ${r.state} xact=${r.xact} ${r.query}`), (error: unknown) => [`cannot list: ${String(error)}`])
        : ["server not running"];
      let serverLog = "";
      try {
        serverLog = readFileSync(path.join(server.dir, "server.log"), "utf8").split("\n").slice(-40).join("\n");
      } catch (error) {
        serverLog = `cannot read: ${String(error)}`;
      }
      console.error([
        `--- postgres-restart failed: controller ${JSON.stringify(controller.health)}, ${acked.length} acknowledged, ${refused} refused, states ${[...states].join(",")}`,
        "--- marks", ...marks,
        "--- controller log (info and above)", ...records.map(line),
        "--- runner log (warn and above)", ...runnerRecords.filter((r) => r.level === "warn" || r.level === "error").map(line).slice(-60),
        "--- controller backends (pg_stat_activity)", ...backends,
        "--- PostgreSQL server log (last 40 lines)", serverLog,
      ].join("\n"));
    };
    const submit = async () => {
      for (;;) {
        const res = await fetch(`${controller.url}/api/v1/jobs`, {
          method: "POST",
          headers: { authorization: `Bearer ${controller.adminToken}`, "content-type": "application/json" },
          body: JSON.stringify({ plugin: "echo" }),
        }).catch(() => undefined);
        if (res?.status === 201) return acked.push(((await res.json()) as { id: string }).id);
        await res?.body?.cancel();
        expect(res?.status).toBe(503);
        refused++;
        await Bun.sleep(100);
      }
    };
    const stream = (async () => {
      for (let i = 0; i < JOBS; i++) {
        await submit();
        states.add(controller.health.state);
        await Bun.sleep(25);
      }
    })();
    await eventually(() => (acked.length >= 15 ? true : undefined), 20_000, "a third of the jobs acknowledged");
    const server = store.server!;
    // Started again even when an assertion below fails first (the server is shared by later files).
    cleanups.push(async () => { if (!server.running()) await server.startAsync(); });
    mark(`stopping the server (${acked.length} acknowledged)`);
    await server.stopAsync();
    mark("server stopped");
    await eventually(() => (controller.health.state === "failed" ? true : undefined), 10_000, "the controller failed");
    mark("controller failed");
    states.add(controller.health.state);
    expect(controller.health.reason).toContain("store");
    await Bun.sleep(500);
    await server.startAsync();
    mark("server started");
    // Bounded below the test's timeout, so a controller that stays failed ends the test here.
    let late: ReturnType<typeof setTimeout> | undefined;
    const streamEnded = await Promise.race([stream.then(() => true), new Promise<false>((resolve) => (late = setTimeout(() => resolve(false), 60_000)))]).finally(() => clearTimeout(late));
    if (!streamEnded) throw new Error(`The controller did not accept the stream's jobs within 60 s of the restart (it is ${controller.health.state}, ${acked.length} of ${JOBS} acknowledged)`);
    mark("every job acknowledged");
    await eventually(() => (acked.every((id) => controller.getJob(id)?.status === "succeeded") ? true : undefined), 60_000, "every acknowledged job succeeded");
    // From the database itself, not the controller's memory. A job committed whose submit answer
    // was lost (the client got 503 and submitted again) runs too: wait for every row.
    const sql = store.sql();
    const unfinished = async () => (await sql<Array<{ id: string; status: string }>>`SELECT id, status FROM jobs WHERE status <> 'succeeded'`).map((r) => `${r.id}:${r.status}`);
    await eventually(async () => ((await unfinished()).length === 0 ? true : undefined), 60_000, "every committed job succeeded").catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${(await unfinished()).join(", ")}`);
    });
    const rows = await sql<Array<{ id: string; status: string; doc: { attempt: number; reportedAttempt?: number; output?: { run: number } } }>>`SELECT id, status, doc FROM jobs`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const lost = acked.filter((id) => byId.get(id)?.status !== "succeeded");
    // A final result stored for a job whose runner had run it more than once, or whose stored
    // result is not from the run that the runner reported first.
    const duplicated = acked.filter((id) => (runs.get(id) ?? 0) !== 1 || byId.get(id)?.doc.output?.run !== 1);
    // An acknowledged result the database does not hold: the job would show another attempt.
    const ackedNotCommitted = acked.filter((id) => byId.get(id)?.doc.reportedAttempt !== byId.get(id)?.doc.attempt);
    expect({ submitted: acked.length, lost: lost.length, duplicated: duplicated.length, ackedNotCommitted: ackedNotCommitted.length }).toEqual({
      submitted: JOBS,
      lost: 0,
      duplicated: 0,
      ackedNotCommitted: 0,
    });
    // It was really down and back: refusals while failed, a reconnect, the runner's new session.
    expect(states.has("failed")).toBe(true);
    expect(refused).toBeGreaterThan(0);
    expect(controller.health.state).toBe("ready");
    expect(connection.status().reconnects).toBeGreaterThanOrEqual(1);
    // Jobs the database committed whose submit answer was lost count as submitted twice by the
    // client (a new id each time); none is a lost job.
    expect(rows.every((r) => r.status === "succeeded")).toBe(true);
    whenFailed = undefined;
  }, 120_000);
}, ["postgres"]);
