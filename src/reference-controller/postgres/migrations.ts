// The PostgreSQL store's schema, versioned: each migration runs once, at controller start. Replicas that start together serialise on an advisory lock, so a version
// is applied once. A database migrated by a newer binary is refused (its schema may mean things
// this one does not know), never downgraded. Only loaded when `storeUrl` is set.

import type { Sql } from "postgres";
import { EdgeError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs and runners",
    sql: `
      CREATE TABLE jobs (
        id text PRIMARY KEY,
        grp text NOT NULL,
        status text NOT NULL,
        queue_seq bigint NOT NULL,
        attempt integer NOT NULL,
        runner_id text,
        lease_expires_at bigint,
        data jsonb NOT NULL
      );
      CREATE INDEX jobs_queued ON jobs (grp, queue_seq) WHERE status = 'queued';
      CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
      CREATE TABLE runners (
        id text PRIMARY KEY,
        data jsonb NOT NULL
      );
    `,
  },
];

/** Any constant: the advisory lock all replicas take while migrating ("edge-run" in ASCII). */
const MIGRATION_LOCK = 0x6564_6765_2d72_756en;

export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/**
 * Brings the database to this binary's schema. Returns the versions applied now (none when it
 * was current). Throws `store_unavailable` when the database has a version this binary lacks.
 */
export async function migrate(sql: Sql, logger: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const rows = await tx<Array<{ version: number }>>`SELECT max(version) AS version FROM schema_migrations`;
    const current = rows[0]?.version ?? 0;
    if (current > latest) {
      throw new EdgeError(
        "store_unavailable",
        `Cannot open the PostgreSQL store: its schema is version ${current}, newer than this edge-runner's ${latest}; run the newer edge-runner, or restore a backup taken before it migrated`,
      );
    }
    const applied: number[] = [];
    for (const migration of migrations.filter((m) => m.version > current)) {
      // One transaction holds the lock and every pending migration (DDL is transactional in
      // PostgreSQL): a failing one leaves the database at the version it had before this start.
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${migration.version}, ${migration.name})`;
      applied.push(migration.version);
      logger.info("Applied a PostgreSQL store migration", { version: migration.version, name: migration.name });
    }
    return applied;
  });
}
