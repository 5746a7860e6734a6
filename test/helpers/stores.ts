// Runs a controller test suite against both stores: `forEachStore(name, (store) => { … })` wraps
// its body in one describe block per store. The PostgreSQL one starts one real server per test
// process, shared by its test files (test/helpers/postgres-server.ts), migrates one database, and
// empties every table before each test (TRUNCATE: milliseconds; a database per test copied from a
// template took 170 ms each here).

import { afterAll, beforeAll, describe } from "bun:test";
import postgres, { type Sql } from "postgres";
import type { ReferenceControllerOptions } from "../../src/reference-controller/controller.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { migrate } from "../../src/reference-controller/postgres/migrations.ts";
import { startPostgres, stopWhenProcessExits, type PostgresServer } from "./postgres-server.ts";

export type StoreKind = "embedded" | "postgres";

export interface StoreFixture {
  readonly kind: StoreKind;
  /** Options that put a new controller on this store: nothing for embedded, a fresh database for PostgreSQL. */
  options(): Promise<Partial<ReferenceControllerOptions>>;
  /** The running server (PostgreSQL only): tests stop and start it, or query it. */
  readonly server: PostgresServer | undefined;
  /** A client on the test database (PostgreSQL only). */
  sql(): Sql;
}

let shared: { server: PostgresServer; admin: Sql; url: string } | undefined;
let starting: Promise<NonNullable<typeof shared>> | undefined;

/**
 * The server outlives a test file: bun test runs the files of one invocation in one process, and
 * a start costs about 3 s against milliseconds per test, so a watchdog stops it (and removes its
 * directory) once the process has exited (bun test fires no exit event).
 */
async function acquireServer(): Promise<NonNullable<typeof shared>> {
  if (shared !== undefined) return shared;
  starting ??= (async () => {
    const server = await startPostgres();
    stopWhenProcessExits(server);
    const admin = postgres(server.url, { password: server.password, max: 1, onnotice: () => {} });
    await migrate(admin, memoryLogger().logger);
    shared = { server, admin, url: server.url };
    return shared;
  })();
  return starting;
}

/** One describe block per store around `body`; `kinds` limits it (a test of one store's own behaviour). */
export function forEachStore(name: string, body: (store: StoreFixture) => void, kinds: readonly StoreKind[] = ["embedded", "postgres"]): void {
  for (const kind of kinds) {
    describe(`${name} [${kind} store]`, () => {
      if (kind === "embedded") {
        body({ kind, options: async () => ({}), server: undefined, sql: () => { throw new Error("The embedded store has no SQL"); } });
        return;
      }
      let current: Sql | undefined;
      const clients: Sql[] = [];
      beforeAll(async () => void (await acquireServer()), 120_000);
      afterAll(async () => {
        await Promise.all(clients.map((c) => c.end({ timeout: 5 })));
      });
      body({
        kind,
        get server() { return shared?.server; },
        async options() {
          const db = shared as NonNullable<typeof shared>;
          // The server is shared by every file of this process: one test that stopped it and then
          // failed must not fail every test after it with "connection refused".
          if (!db.server.running()) await db.server.startAsync();
          const tables = await db.admin<Array<{ name: string }>>`
            SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`;
          if (tables.length > 0) await db.admin.unsafe(`TRUNCATE ${tables.map((t) => t.name).join(", ")} CASCADE`);
          if (current === undefined) {
            current = postgres(db.url, { password: db.server.password, max: 2, onnotice: () => {} });
            clients.push(current);
          }
          return { storeUrl: db.url, storePassword: db.server.password, storePingMs: 200 };
        },
        sql() {
          if (current === undefined) throw new Error("Call options() first");
          return current;
        },
      });
    });
  }
}
