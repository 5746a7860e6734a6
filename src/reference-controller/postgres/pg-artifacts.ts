// Job artifacts in PostgreSQL, so any replica serves what a runner uploaded through another. The
// same limit and all-or-nothing rule as the file store: the bytes go in as 1 MiB chunks under a
// fresh upload id while they stream (digest and size counted as they arrive, refused at the byte
// that crosses the limit), and only then does one short transaction point the artifact's record
// at them, replacing an earlier attempt's. A failed upload deletes its chunks; one cut off by a
// crash is swept later (no record points at it).

import { randomBytes } from "node:crypto";
import type { Sql } from "postgres";
import { EdgeError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { ArtifactMeter, checkArtifact, type ControllerArtifacts, type StoredArtifact } from "../artifact-store.ts";
import { storeUnavailable } from "./pg-errors.ts";

const CHUNK_BYTES = 1024 * 1024;
/** Chunks no record points at are swept once this old (an upload a crash cut off). */
const ORPHAN_AGE = "6 hours";

export class PgArtifacts implements ControllerArtifacts {
  readonly maxBytes: number;
  readonly #sql: Sql;
  readonly #logger: Logger;

  constructor(options: { sql: Sql; maxBytes: number; logger: Logger }) {
    this.#sql = options.sql;
    this.maxBytes = options.maxBytes;
    this.#logger = options.logger;
  }

  async put(jobId: string, attempt: number, name: string, body: ReadableStream<Uint8Array>, contentType: string | undefined, now: number): Promise<StoredArtifact> {
    checkArtifact(name, contentType);
    const uploadId = randomBytes(12).toString("base64url");
    const meter = new ArtifactMeter(name, jobId, this.maxBytes);
    const reader = body.getReader();
    let seq = 0;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    /** Writes whole chunks of CHUNK_BYTES (and, at the end, the rest), keeping less than one in memory. */
    const flush = async (end: boolean) => {
      if (pendingBytes === 0 || (!end && pendingBytes < CHUNK_BYTES)) return;
      const data = Buffer.concat(pending, pendingBytes);
      let at = 0;
      while (data.byteLength - at >= CHUNK_BYTES || (end && at < data.byteLength)) {
        const piece = data.subarray(at, Math.min(data.byteLength, at + CHUNK_BYTES));
        await this.#sql`INSERT INTO job_artifact_chunks (upload_id, seq, data) VALUES (${uploadId}, ${seq++}, ${piece})`;
        at += piece.byteLength;
      }
      pending = at < data.byteLength ? [data.subarray(at)] : [];
      pendingBytes = data.byteLength - at;
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        meter.add(value);
        pending.push(value);
        pendingBytes += value.byteLength;
        await flush(false);
      }
      await flush(true);
      const record: StoredArtifact = { name, size: meter.size, sha256: meter.sha256(), attempt, storedAt: now, ...(contentType === undefined ? {} : { contentType }) };
      await this.#sql.begin(async (tx) => {
        const [old] = await tx<Array<{ upload_id: string }>>`SELECT upload_id FROM job_artifacts WHERE job_id = ${jobId} AND name = ${name} FOR UPDATE`;
        if (old !== undefined) await tx`DELETE FROM job_artifact_chunks WHERE upload_id = ${old.upload_id}`;
        await tx`
          INSERT INTO job_artifacts (job_id, name, upload_id, record) VALUES (${jobId}, ${name}, ${uploadId}, ${tx.json(record as never)})
          ON CONFLICT (job_id, name) DO UPDATE SET upload_id = EXCLUDED.upload_id, record = EXCLUDED.record`;
      });
      return record;
    } catch (error) {
      await reader.cancel().catch(() => undefined);
      await this.#sql`DELETE FROM job_artifact_chunks WHERE upload_id = ${uploadId}`.catch(() => undefined);
      if (error instanceof EdgeError) throw error;
      throw storeUnavailable(`store artifact "${name}" of job "${jobId}"`, error);
    }
  }

  async list(jobId: string): Promise<StoredArtifact[]> {
    try {
      const rows = await this.#sql<Array<{ record: StoredArtifact }>>`SELECT record FROM job_artifacts WHERE job_id = ${jobId} ORDER BY name`;
      return rows.map((r) => r.record);
    } catch (error) {
      throw storeUnavailable(`list the artifacts of job "${jobId.slice(0, 128)}"`, error);
    }
  }

  async open(jobId: string, name: string): Promise<{ record: StoredArtifact; body: ReadableStream<Uint8Array> } | undefined> {
    let rows: Array<{ upload_id: string; record: StoredArtifact }>;
    try {
      rows = await this.#sql<Array<{ upload_id: string; record: StoredArtifact }>>`SELECT upload_id, record FROM job_artifacts WHERE job_id = ${jobId} AND name = ${name}`;
    } catch (error) {
      throw storeUnavailable(`read artifact "${name.slice(0, 128)}"`, error);
    }
    const row = rows[0];
    if (row === undefined) return undefined;
    const sql = this.#sql;
    const uploadId = row.upload_id;
    let seq = 0;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= row.record.size) return controller.close();
        const [chunk] = await sql<Array<{ data: Uint8Array }>>`SELECT data FROM job_artifact_chunks WHERE upload_id = ${uploadId} AND seq = ${seq++}`;
        // Replaced or dropped while being read: the download ends short, never with other bytes.
        if (chunk === undefined) return controller.error(new EdgeError("not_found", `Cannot read artifact "${name}" of job "${jobId}": it was replaced or deleted`));
        sent += chunk.data.byteLength;
        controller.enqueue(new Uint8Array(chunk.data));
      },
    });
    return { record: row.record, body };
  }

  drop(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    const ids = [...jobIds];
    void this.#sql
      .begin(async (tx) => {
        const gone = await tx<Array<{ upload_id: string }>>`SELECT upload_id FROM job_artifacts WHERE job_id = ANY(${ids})`;
        const dropped = gone.map((r) => r.upload_id);
        // Also artifacts of jobs already gone from the database (a failed earlier pass; a job
        // another replica's retention deleted): their uploads are long finished.
        await tx`
          DELETE FROM job_artifacts a WHERE job_id = ANY(${ids})
            OR (NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.job_id) AND (a.record->>'storedAt')::bigint < ${Date.now() - 3_600_000})`;
        await tx`
          DELETE FROM job_artifact_chunks c WHERE (c.created_at < now() - ${ORPHAN_AGE}::interval OR c.upload_id = ANY(${dropped}))
            AND NOT EXISTS (SELECT 1 FROM job_artifacts a WHERE a.upload_id = c.upload_id)`;
      })
      .catch((error: unknown) => this.#logger.warn("Cannot delete the artifacts of expired jobs; the next retention pass deletes them", { jobs: ids.length, error: String(error).slice(0, 200) }));
  }
}
