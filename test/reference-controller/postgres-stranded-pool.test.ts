// The store's reconnect after a failure when the driver's pool is stranded: postgres 3.4.9 left
// every connection of a pool unable to connect once backends died mid-write (seen with
// test/helpers/pg-terminate-storm.ts: after a storm every query on that pool hung, the server up).
// That was a write left pending on a closed socket, which scripts/patch-dependencies.mjs now
// fixes (postgres-driver-patch.test.ts); a probe that gets no answer still takes a new pool, as a
// fallback for whatever else leaves a pool without an answer.

import { afterEach, expect, test } from "bun:test";
import postgres, { type Sql } from "postgres";
import { memoryLogger } from "../../src/log/logger.ts";
import { openPostgresBackend } from "../../src/reference-controller/postgres/open.ts";
import type { StoreBackend } from "../../src/reference-controller/store-seam.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

forEachStore("PostgreSQL store reconnecting through a stranded pool", (store) => {
  test("a reconnect whose probe gets no answer goes on through a new pool and recovers", async () => {
    const options = await store.options();
    const url = options.storeUrl as string;
    const password = options.storePassword as string;
    const pools: Sql[] = [];
    let stranded = false;
    const connect = (): Sql => {
      const pool = postgres(url, { password, max: 4, onnotice: () => {} });
      pools.push(pool);
      cleanups.push(() => pool.end({ timeout: 0 }).catch(() => {}));
      if (pools.length > 1) return pool;
      // The first pool strands: once it does, no query asked of it ever settles.
      return new Proxy(pool, { apply: (target, self, args) => (stranded ? new Promise(() => {}) : Reflect.apply(target, self, args)) });
    };
    const { logger, records } = memoryLogger("debug");
    const backend: StoreBackend = await openPostgresBackend({ url, password, logger, connect, probeTimeoutMs: 300, pingMs: 60_000 });
    cleanups.push(async () => {
      await backend.stop?.();
      await backend.store.close();
    });

    stranded = true;
    backend.commits.failNow(new Error("the PostgreSQL connection was lost (test)"));
    let recovered = false;
    const stop = backend.startRecovery?.(() => void (recovered = true));
    cleanups.push(() => stop?.());
    await eventually(() => (recovered ? true : undefined), 20_000, "the store recovered").catch((error: unknown) => {
      throw new Error(`${String(error)}; log: ${records.map((r) => `${r.msg} ${String(r.error ?? "")}`).join(" | ").slice(0, 1_000)}`);
    });
    expect(backend.commits.failure).toBeUndefined();
    expect(pools.length).toBe(2);
    expect(records.some((r) => r.msg.startsWith("No answer from PostgreSQL; reconnecting through a new connection pool"))).toBe(true);
  }, 30_000);
}, ["postgres"]);
