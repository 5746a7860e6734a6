// The PostgreSQL store's schema, versioned: each migration runs once, at controller start (every
// version the database lacks, in order). Replicas that start together serialise on an advisory
// lock, so a version is applied once. A database migrated by a newer binary is refused (its schema may mean things
// this one does not know), never downgraded. Only loaded when `storeUrl` is set.

import type { Sql } from "postgres";
import { EdgeError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { SHARED_STORE_MIGRATIONS } from "./shared-store-migrations.ts";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    // Versions 1-9 are the controller's jobs, runners and events (postgres/pg-store.ts); 10-19
    // are secrets, bundles and artifacts. Each job write is a compare-and-swap on `version`, so
    // replicas sharing the database never overwrite a change they did not see.
    version: 1,
    name: "jobs, runners and job events",
    sql: `
      CREATE TABLE jobs (
        id text PRIMARY KEY,
        grp text NOT NULL,
        status text NOT NULL,
        attempt integer NOT NULL,
        queue_seq bigint NOT NULL,
        runner_id text,
        lease_expires_at bigint,
        version bigint NOT NULL,
        doc jsonb NOT NULL
      );
      CREATE INDEX jobs_queued ON jobs (grp, queue_seq) WHERE status = 'queued';
      CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
      CREATE TABLE runners (
        id text PRIMARY KEY,
        doc jsonb NOT NULL
      );
      CREATE TABLE job_events (
        job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        attempt integer NOT NULL,
        attempt_seq integer NOT NULL,
        bytes integer NOT NULL,
        truncated boolean NOT NULL DEFAULT false,
        body jsonb NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
    `,
  },
  {
    // Edge sessions live in one replica's memory; this row tells the others where (the owner's
    // advertised URL) so a long-poll request that reaches another replica is forwarded there
    // (session-forward.ts). Only a hash of the long-poll token is kept, never the token.
    // `last_seen_at` is refreshed by the owner; a row older than the session expiry is a dead
    // replica's and is ignored, then deleted.
    version: 2,
    name: "edge sessions",
    sql: `
      CREATE TABLE edge_sessions (
        id text PRIMARY KEY,
        runner_id text NOT NULL,
        grp text NOT NULL,
        replica_id text NOT NULL,
        advertise_url text NOT NULL,
        token_hash text NOT NULL,
        created_at bigint NOT NULL,
        last_seen_at bigint NOT NULL
      );
      CREATE INDEX edge_sessions_replica ON edge_sessions (replica_id);
      CREATE INDEX edge_sessions_runner ON edge_sessions (runner_id);
    `,
  },
  {
    // The event quotas hold for the database as a whole (pg-event-quota.ts): the totals every
    // batch locks and updates, started from the events already stored.
    version: 3,
    name: "job event totals",
    sql: `
      CREATE TABLE job_event_sizes (
        job_id text PRIMARY KEY,
        bytes bigint NOT NULL,
        truncated boolean NOT NULL DEFAULT false
      );
      CREATE TABLE job_event_totals (
        id smallint PRIMARY KEY CHECK (id = 1),
        bytes bigint NOT NULL
      );
      INSERT INTO job_event_sizes (job_id, bytes, truncated) SELECT job_id, sum(bytes), bool_or(truncated) FROM job_events GROUP BY job_id;
      INSERT INTO job_event_totals (id, bytes) SELECT 1, coalesce(sum(bytes), 0) FROM job_events;
    `,
  },
  {
    // Runner rows get a version like jobs: a replica applies a row it reads only when it is newer
    // than the one it holds, so a read that overtook its own write (a key rotation) cannot put
    // the old key back in its memory (pg-store.ts reloadRunners). One sequence for all rows, so a
    // runner deregistered and registered again never goes back to a version a replica has seen.
    version: 4,
    name: "runner row versions",
    sql: `
      CREATE SEQUENCE runner_versions;
      ALTER TABLE runners ADD COLUMN version bigint NOT NULL DEFAULT nextval('runner_versions');
    `,
  },
  // Versions 10-19: secrets, plugin bundles, job artifacts.
  ...SHARED_STORE_MIGRATIONS,
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
    const rows = await tx<Array<{ version: number }>>`SELECT version FROM schema_migrations`;
    const have = new Set(rows.map((r) => r.version));
    const current = Math.max(0, ...have);
    if (current > latest) {
      throw new EdgeError(
        "store_unavailable",
        `Cannot open the PostgreSQL store: its schema is version ${current}, newer than this edge-runner's ${latest}; run the newer edge-runner, or restore a backup taken before it migrated`,
      );
    }
    const applied: number[] = [];
    for (const migration of migrations.filter((m) => !have.has(m.version))) {
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
