// The PostgreSQL test server is shared by every test file of one `bun test` process. A test that
// stops it (a restart under load) and fails before starting it again must not take every later
// PostgreSQL test down with it: the fixture starts a stopped server before the next test.

import { expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";

forEachStore("the shared PostgreSQL test server", (store) => {
  test("a test stops the server and leaves it stopped (as a failed restart test would)", async () => {
    await store.options();
    await store.server!.stopAsync();
    expect(store.server!.running()).toBe(false);
  });

  test("the next test finds it running again", async () => {
    await store.options();
    const [row] = await store.sql()<Array<{ one: number }>>`SELECT 1 AS one`;
    expect(row?.one).toBe(1);
  });
}, ["postgres"]);
