// A replica's index of job events (postgres/pg-job-logs.ts) is read from the database when another
// replica's NOTIFY names the job; a runner that moves here goes on from the seq it gives. Read by
// statements that each see their own snapshot, an event another replica committed between them
// left a count that includes it beside a last seq that does not, which no later reload corrected:
// the runner's next event was a gap and its result was answered `events_missing` forever (a job
// stuck `running` in test/replicas/replicas.test.ts, about 1 run in 10 under load).

import { expect, test } from "bun:test";
import type { Sql } from "postgres";
import { memoryLogger } from "../../src/log/logger.ts";
import { PgJobLogs } from "../../src/reference-controller/postgres/pg-job-logs.ts";
import type { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import { forEachStore } from "../helpers/stores.ts";

/**
 * `sql` whose first statements issued together run one at a time in reverse order, with `between`
 * run after the first of them (before any of them answers): a schedule two pool connections may
 * take under load.
 */
function reordered(sql: Sql, between: () => Promise<unknown>): Sql {
  type Held = { run: () => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void };
  let held: Held[] | undefined;
  let done = false;
  const flush = async (): Promise<void> => {
    const statements = (held ?? []).reverse();
    held = undefined;
    done = true;
    const outcomes: Array<() => void> = [];
    for (const [i, statement] of statements.entries()) {
      try {
        const value = await statement.run();
        outcomes.push(() => statement.resolve(value));
      } catch (error) {
        outcomes.push(() => statement.reject(error));
      }
      if (i === 0) await between();
    }
    for (const answer of outcomes) answer();
  };
  return new Proxy(sql, {
    apply(target, self, args) {
      if (done) return Reflect.apply(target, self, args);
      return new Promise((resolve, reject) => {
        if (held === undefined) {
          held = [];
          setTimeout(() => void flush(), 0);
        }
        held.push({ run: async () => await Reflect.apply(target, self, args), resolve, reject });
      });
    },
  });
}

forEachStore("event index across replicas", (store) => {
  test("an event another replica commits while the index of its job is read is taken by the reload its NOTIFY brings: the next seq is accepted", async () => {
    await store.options();
    const sql = store.sql();
    await sql`INSERT INTO jobs (id, grp, status, attempt, queue_seq, runner_id, version, doc)
      VALUES ('job_a', 'default', 'running', 1, 1, 'r1', 1, ${sql.json({ id: "job_a" })})`;
    const event = { seq: 1, attempt: 1, attemptSeq: 1, type: "log", lines: [{ ts: 1, level: "info", msg: "Request GET" }] };
    const commitEvent = () => sql`INSERT INTO job_events (job_id, seq, attempt, attempt_seq, bytes, truncated, body)
      VALUES ('job_a', 1, 1, 1, 100, false, ${sql.json(event)})`;
    const fakeStore = { sql: reordered(sql, commitEvent) } as unknown as PgStore;
    const logs = new PgJobLogs({ store: fakeStore, logger: memoryLogger().logger });

    // The reload the job's lease brought; the event lands in the middle of it.
    await logs.reloadIndex(["job_a"]);
    expect(await sql`SELECT seq FROM job_events WHERE job_id = 'job_a'`).toHaveLength(1);
    // The reload the event's own NOTIFY brings.
    await logs.reloadIndex(["job_a"]);
    expect(logs.cursor("job_a", 1)).toEqual({ count: 1, attempt: 1, highestSeq: 1 });
  });
}, ["postgres"]);
