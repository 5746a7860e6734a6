// The schema of what every replica must see besides jobs and runners: the secret store, plugin
// bundles and job artifacts (versions 10-19; 1-9 are the job store's, see migrations.ts).

import type { Migration } from "./migrations.ts";

export const SHARED_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 10,
    name: "secrets",
    sql: `
      CREATE TABLE controller_secrets (
        name text PRIMARY KEY,
        sealed text NOT NULL
      );
      -- One value sealed with the key that sealed the secrets: a replica with another key file
      -- is refused at start instead of failing every secret later.
      CREATE TABLE controller_key_check (
        id integer PRIMARY KEY CHECK (id = 1),
        sealed text NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: "plugin bundles",
    sql: `
      CREATE TABLE plugin_bundles (
        name text NOT NULL,
        version text NOT NULL,
        manifest jsonb NOT NULL,
        signature text NOT NULL,
        bundle bytea NOT NULL,
        PRIMARY KEY (name, version)
      );
    `,
  },
  {
    version: 12,
    name: "job artifacts",
    sql: `
      CREATE TABLE job_artifacts (
        job_id text NOT NULL,
        name text NOT NULL,
        upload_id text NOT NULL UNIQUE,
        record jsonb NOT NULL,
        PRIMARY KEY (job_id, name)
      );
      -- Bytes arrive in chunks under an upload id before the record points at them, so an upload
      -- never holds a transaction (or a connection) open while the runner streams.
      CREATE TABLE job_artifact_chunks (
        upload_id text NOT NULL,
        seq integer NOT NULL,
        data bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (upload_id, seq)
      );
    `,
  },
];
