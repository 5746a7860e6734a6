// The PostgreSQL driver (porsager/postgres 3.4.9) as patched by scripts/patch-dependencies.mjs,
// under a storm of terminated connections (postgres-driver-patch.test.ts has the single case):
// a write queued on a connection that closes before the write goes out threw from a timer
// (`null is not an object (evaluating 'socket.write')`), an uncaught exception that ended the
// controller process whenever the database dropped its connections (a restart, a failover:
// porsager/postgres#1208). Reproduced here by terminating a pool's backends under load.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { forEachStore } from "../helpers/stores.ts";

forEachStore("the PostgreSQL driver under terminated connections", (store) => {
  test("transactions while their connections are terminated again and again: nothing is thrown where no caller can catch it", async () => {
    const options = await store.options();
    const run = spawnSync("node_modules/.bin/bun", ["test/helpers/pg-terminate-storm.ts"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, STORM_URL: options.storeUrl as string, STORM_PASSWORD: options.storePassword as string, STORM_MS: "2000" },
    });
    const line = run.stdout.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(line.startsWith("{") ? line : "{}") as { failed?: number; uncaught?: string[] };
    expect({ exit: run.status, uncaught: result.uncaught, stderr: run.status === 0 ? "" : run.stderr.slice(-2000) }).toEqual({ exit: 0, uncaught: [], stderr: "" });
    // The storm really hit: transactions failed on terminated connections. Whether any got through
    // during it depends on timing (a backend is killed every 5 ms; in one clean-clone CI run none
    // did), so that is not asserted; a pool whose connections hang is the store's to fail and
    // re-make (pg-store.ts, its transaction timeout), not the driver's.
    expect(result.failed).toBeGreaterThan(0);
  }, 40_000);
}, ["postgres"]);
