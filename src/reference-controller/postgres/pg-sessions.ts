// The `edge_sessions` table (migration 2): where each live edge session is, so a long-poll
// request that reaches a replica not holding the session can be forwarded to the one that does.
// Creations and ends go through the store's batch (durable before a creation is answered);
// reads and the owner's periodic last-seen refresh are plain queries (they acknowledge nothing).

import type { SessionRow, SessionRows } from "../store-seam.ts";
import type { PgStore } from "./pg-store.ts";

interface Row {
  id: string;
  runner_id: string;
  grp: string;
  replica_id: string;
  advertise_url: string;
  token_hash: string;
  created_at: string;
  last_seen_at: string;
}

export function pgSessionRows(store: PgStore): SessionRows {
  const sql = store.sql;
  return {
    replicaId: store.replicaId,
    put: (row) => store.putSession(row),
    remove: (id) => store.removeSession(id),
    async find(id, freshSince) {
      const rows = await sql<Row[]>`SELECT * FROM edge_sessions WHERE id = ${id} AND last_seen_at >= ${freshSince}`;
      return rows[0] === undefined ? undefined : fromRow(rows[0]);
    },
    async live(freshSince) {
      const rows = await sql<Row[]>`SELECT * FROM edge_sessions WHERE last_seen_at >= ${freshSince}`;
      return rows.map(fromRow);
    },
    async heartbeat(now, staleBefore) {
      await sql`UPDATE edge_sessions SET last_seen_at = ${now} WHERE replica_id = ${store.replicaId}`;
      // A replica that died (SIGKILL, lost node) never deletes its rows: whoever sees them stale does.
      await sql`DELETE FROM edge_sessions WHERE last_seen_at < ${staleBefore}`;
    },
  };
}

function fromRow(row: Row): SessionRow {
  return {
    id: row.id,
    runnerId: row.runner_id,
    group: row.grp,
    replicaId: row.replica_id,
    advertiseUrl: row.advertise_url,
    tokenHash: row.token_hash,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
  };
}
