// The PostgreSQL driver (postgres 3.4.9) as patched by scripts/patch-dependencies.mjs (postinstall):
// - it threw an uncaught exception when a query was written to a connection whose server went away
//   (porsager/postgres#1208): the reference controller would die with its database. The write is
//   guarded; the query is rejected with CONNECTION_CLOSED, which the store's failure path handles.
// - a connection whose socket closed while a write waited for its setImmediate kept that write
//   pending forever, and with it every later startup message: each reconnect of that connection
//   timed out (CONNECT_TIMEOUT) with the server up, so the controller's reload after a database
//   restart failed again and again (postgres-restart.test.ts, about 1 run in 30 beside CPU burners).

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import postgres from "postgres";
import { postgresBinDir } from "../helpers/postgres-server.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";

forEachStore("the PostgreSQL driver", (store) => {
  test("a query on a reserved connection after the server stopped is rejected, not an uncaught exception", async () => {
    const options = await store.options();
    const server = store.server!;
    const sql = postgres(options.storeUrl!, { password: options.storePassword!, max: 1, onnotice: () => {} });
    try {
      const reserved = await sql.reserve();
      await reserved`SELECT 1`;
      await server.stopAsync();
      await Bun.sleep(200);
      const outcome = await reserved`SELECT 1`.then(() => "answered", (error: { code?: string }) => error.code);
      expect(outcome).toBe("CONNECTION_CLOSED");
    } finally {
      if (!server.running()) await server.startAsync();
      await sql.end({ timeout: 1 });
    }
  });

  test("two backends dying in one read: a query written to the second as it closes does not keep its connection from connecting again", async () => {
    const options = await store.options();
    const server = store.server!;
    const app = "stale-write";
    const sql = postgres(options.storeUrl!, { password: options.storePassword!, max: 2, connect_timeout: 2, onnotice: () => {}, connection: { application_name: app } });
    const admin = store.sql();
    // psql, synchronously: the event loop stays blocked while both backends die, so the driver
    // reads both ends in one go, the first one's first. Its failure handler writes to the second.
    const terminate = (pids: number[]) => {
      const statements = pids.map((pid) => `SELECT pg_terminate_backend(${pid}); SELECT pg_sleep(0.1);`).join(" ");
      const run = spawnSync(path.join(postgresBinDir(), "psql"), ["-h", "127.0.0.1", "-p", String(server.port), "-U", "edge", "-d", "edge", "-qAt", "-c", statements], {
        encoding: "utf8",
        env: { ...process.env, PGPASSWORD: server.password },
      });
      if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
    };
    const outcomes: string[] = [];
    const settle = (query: Promise<unknown>) => query.then(() => "answered", (error: { code?: string }) => error.code ?? "error");
    try {
      // The order in which the loop hands over the two ends is the kernel's: a few rounds.
      for (let round = 0; round < 4; round++) {
        // Two connections, both open (a connection left unable to connect shows here too).
        outcomes.push(...(await Promise.all([settle(sql`SELECT pg_sleep(0.05)`), settle(sql`SELECT pg_sleep(0.05)`)])));
        const followUp = sql`SELECT pg_sleep(30)`.then(() => "answered", () => settle(sql`SELECT 2`));
        const backends = await eventually(async () => {
          const rows = await admin<Array<{ pid: number; state: string }>>`SELECT pid, state FROM pg_stat_activity WHERE application_name = ${app}`;
          const busy = rows.find((r) => r.state === "active");
          const idle = rows.find((r) => r.state === "idle");
          return busy !== undefined && idle !== undefined ? [busy.pid, idle.pid] : undefined;
        }, 5_000, "one backend busy, one idle").catch(() => undefined);
        if (backends === undefined) {
          outcomes.push("not two connections");
          break;
        }
        terminate(backends);
        await followUp;
        // Both connections again, twice (the first query after a kill may get the killed
        // backend's own error): never a connect that times out.
        for (let i = 0; i < 2; i++) {
          outcomes.push(...(await Promise.all([settle(sql`SELECT 1`), settle(sql`SELECT 1`)])));
        }
      }
    } finally {
      await sql.end({ timeout: 0 }).catch(() => {});
    }
    expect(outcomes.filter((o) => o === "CONNECT_TIMEOUT")).toEqual([]);
    expect(outcomes.slice(-2)).toEqual(["answered", "answered"]);
  }, 60_000);
}, ["postgres"]);
