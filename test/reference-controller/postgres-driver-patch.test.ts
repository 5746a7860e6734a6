// The PostgreSQL driver (postgres 3.4.9) throws an uncaught exception when a query is written to
// a connection whose server went away (porsager/postgres#1208): the reference controller would
// die with its database. scripts/patch-dependencies.mjs (postinstall) guards the write; the query
// is rejected with CONNECTION_CLOSED instead, which the store's failure path handles.

import { expect, test } from "bun:test";
import postgres from "postgres";
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
}, ["postgres"]);
