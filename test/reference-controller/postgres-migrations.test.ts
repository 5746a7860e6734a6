// The PostgreSQL store's schema migrations against a real server (Debian's postgresql, started
// by the test as the `postgres` user on a loopback port): applied once at start, a no-op on a
// current database, once only when replicas start together, and a newer database is refused.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres, { type Sql } from "postgres";
import { memoryLogger } from "../../src/log/logger.ts";
import { LATEST_SCHEMA_VERSION, migrate, MIGRATIONS, type Migration } from "../../src/reference-controller/postgres/migrations.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres-server.ts";

let server: PostgresServer;
const clients: Sql[] = [];
let databases = 0;

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((sql) => sql.end({ timeout: 5 })));
  server?.destroy();
});

function connect(url: string): Sql {
  const sql = postgres(url, { password: server.password, max: 4, onnotice: () => {} });
  clients.push(sql);
  return sql;
}

const freshDatabase = () => connect(server.createDatabase(`migrations_${++databases}`));

describe("PostgreSQL store migrations", () => {
  test("a new database is brought to the latest version; a second start applies nothing", async () => {
    const sql = freshDatabase();
    const { logger } = memoryLogger("info");
    expect(await migrate(sql, logger)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(sql, logger)).toEqual([]);
    const rows = await sql<Array<{ version: number }>>`SELECT version FROM schema_migrations ORDER BY version`;
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    const tables = await sql<Array<{ table_name: string }>>`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
    expect(tables.map((t) => t.table_name)).toEqual(["controller_key_check", "controller_secrets", "edge_sessions", "job_artifact_chunks", "job_artifacts", "job_event_sizes", "job_event_totals", "job_events", "jobs", "plugin_bundles", "runners", "schema_migrations"]);
  });

  test("replicas starting at once apply each version once", async () => {
    const url = server.createDatabase(`migrations_${++databases}`);
    const replicas = Array.from({ length: 4 }, () => connect(url));
    const { logger } = memoryLogger("info");
    const applied = await Promise.all(replicas.map((sql) => migrate(sql, logger)));
    expect(applied.flat().sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(applied.filter((versions) => versions.length > 0).length).toBe(1);
  });

  test("a database migrated by a newer binary is refused, naming both versions, and left as it is", async () => {
    const sql = freshDatabase();
    const { logger } = memoryLogger("info");
    const newer: Migration[] = [...MIGRATIONS, { version: LATEST_SCHEMA_VERSION + 1, name: "from the future", sql: "CREATE TABLE future (id int)" }];
    await migrate(sql, logger, newer);
    const refusal = await migrate(sql, logger).then(() => undefined, (error: unknown) => error as { code: string; message: string });
    expect(refusal?.code).toBe("store_unavailable");
    expect(refusal?.message).toContain(`version ${LATEST_SCHEMA_VERSION + 1}, newer than this edge-runner's ${LATEST_SCHEMA_VERSION}`);
    const rows = await sql<Array<{ version: number }>>`SELECT max(version) AS version FROM schema_migrations`;
    expect(rows[0]?.version).toBe(LATEST_SCHEMA_VERSION + 1);
  });

  test("a failing migration leaves the database at the version it had", async () => {
    const sql = freshDatabase();
    const { logger } = memoryLogger("info");
    await migrate(sql, logger);
    const broken: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 1, name: "good", sql: "CREATE TABLE good (id int)" },
      { version: LATEST_SCHEMA_VERSION + 2, name: "bad", sql: "CREATE TABLE jobs (id int)" },
    ];
    await expect(migrate(sql, logger, broken)).rejects.toThrow();
    const rows = await sql<Array<{ version: number }>>`SELECT max(version) AS version FROM schema_migrations`;
    expect(rows[0]?.version).toBe(LATEST_SCHEMA_VERSION);
    const good = await sql`SELECT 1 FROM information_schema.tables WHERE table_name = 'good'`;
    expect(good.length).toBe(0);
  });
});
