// The durable outbox: everything the runner owes meshStack about a run (register source, status
// updates, the final status) is written to disk before it is sent, and sent in order per run,
// retried with backoff through outages and restarts until meshStack acknowledges it (2xx, or 409
// on a run that already ended). One file per run under <dataDir>/meshstack/runs/, rewritten
// atomically; it is deleted once the run's last update is acknowledged.
//
// What is secret in a record (the run token, and the pending bodies: a final status carries
// sensitive outputs' values, a DETECT run's plan) is sealed with the outbox key (AtRestCipher,
// the run uuid authenticated, so a sealed blob cannot be moved to another run's file); what the
// status page and the start-up listing need stays in clear, with the id of the key that sealed
// it. After a rotation of the outbox key (`edge-runner keys rotate --outbox`), records sealed
// with a retained key still open, and are resealed under the current one (at start, and by
// resealIfRotated() while running), so the old key can then be retired.

import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../errors.ts";
import { AtRestCipher } from "../../secrets/at-rest.ts";
import { AtRestKeyRing } from "../../secrets/at-rest-ring.ts";
import { writeFileAtomic } from "../../util/atomic-write.ts";
import { OWN_FILE, readTextFileBounded } from "../../util/read-file-bounded.ts";

/** What the runner is doing with a run; a file found at start-up in `running` was cut off by a restart. */
export type RunPhase = "running" | "handed_off" | "ending";

export interface OutboxOp {
  seq: number;
  kind: "register" | "patch";
  body: Record<string, unknown>;
  /** The run's last update: once acknowledged, the run is done. */
  final?: boolean;
  /** A final update already cut to its minimal form after meshStack refused the full one: not cut again. */
  minimal?: boolean;
  /** A final update's main step (the run's own step in meshStack), which carries the minimal form's summary. */
  mainStep?: string;
}

export interface RunRecord {
  uuid: string;
  runToken: string;
  registerUrl: string;
  updateUrl: string;
  claimedAt: number;
  phase: RunPhase;
  workspace: string;
  implementationType: string;
  nextSeq: number;
  pending: OutboxOp[];
}

/**
 * The file as written: version 2 seals `runToken` and `pending` (`key`: the id of the key that
 * sealed them, absent in files written before key rotation); version 1 (before 2026-12) held them in clear.
 */
type RecordFile = Omit<RunRecord, "runToken" | "pending"> & { v: 2; key?: string; sealed: string };
type SealedPart = Pick<RunRecord, "runToken" | "pending">;

const FILE_SUFFIX = ".run.json";
/** A record is small; a bigger file is corrupt or not ours, refused before it is read (and left in place). */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** The AAD of a record's sealed part: its run, so a sealed blob opens in no other run's file. */
const sealContext = (uuid: string): string => `meshstack run ${uuid}`;

/** How many records each outbox key sealed, by key id; `unknown`: records that no key opens (or in clear, of version 1). */
export interface OutboxKeyUsage {
  byKey: Record<string, number>;
  unknown: number;
}

export class RunOutboxStore {
  readonly dir: string;
  readonly #keys: () => AtRestKeyRing;
  /** Writes, removals and reseals one at a time: a reseal never writes back a record just removed. */
  #serial: Promise<unknown> = Promise.resolve();
  /** The key every record on disk was last resealed under (start-up load or resealIfRotated). */
  #resealedUnder: string | undefined;

  /** `keys`: one key, or the outbox key ring (a function, so that a running runner sees a rotation). */
  constructor(dataDir: string, keys: AtRestCipher | AtRestKeyRing | (() => AtRestKeyRing)) {
    this.dir = RunOutboxStore.dirOf(dataDir);
    const ring = keys instanceof AtRestCipher ? AtRestKeyRing.of([keys]) : keys;
    this.#keys = typeof ring === "function" ? ring : () => ring;
  }

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(work, work);
    this.#serial = next.catch(() => {});
    return next;
  }

  /** Where a data directory's run records live. */
  static dirOf(dataDir: string): string {
    return join(dataDir, "meshstack", "runs");
  }

  /**
   * A run's file: named by its uuid, or, for a uuid that is not a plain file name (a claimed run
   * refused for it is still reported: connection #failUnrunnable), by its SHA-256 after a "~",
   * a character no plain name has. load() reads the uuid from the file, not from its name.
   */
  #path(uuid: string): string {
    const name = /^[A-Za-z0-9._-]+$/.test(uuid) ? uuid : `~${createHash("sha256").update(uuid).digest("hex")}`;
    return join(this.dir, `${name}${FILE_SUFFIX}`);
  }

  save(record: RunRecord): Promise<void> {
    return this.#inTurn(() => this.#write(record));
  }

  async #write(record: RunRecord): Promise<void> {
    const { runToken, pending, ...clear } = record;
    const secret: SealedPart = { runToken, pending };
    const { sealed, key } = this.#keys().seal(JSON.stringify(secret), sealContext(record.uuid));
    const file: RecordFile = { v: 2, ...clear, key, sealed };
    await writeFileAtomic(this.#path(record.uuid), JSON.stringify(file), { mode: 0o600, dirMode: 0o700 });
  }

  remove(uuid: string): Promise<void> {
    return this.#inTurn(() => rm(this.#path(uuid), { force: true }));
  }

  /**
   * After the outbox key was rotated (the ring's current key is not the one records were last
   * resealed under), reseals every record on disk sealed with another key; returns how many. A
   * record that cannot be read is left as it is (load() reports it at the next start).
   */
  async resealIfRotated(): Promise<number> {
    const current = this.#keys().current.id;
    if (current === this.#resealedUnder) return 0;
    let resealed = 0;
    for (const file of await this.#files()) {
      await this.#inTurn(async () => {
        let record: RunRecord;
        try {
          const opened = this.#read(await readTextFileBounded(file, MAX_RECORD_BYTES, OWN_FILE));
          if (opened.key === current) return;
          record = opened.record;
        } catch {
          return; // removed meanwhile, or unreadable
        }
        await this.#write(record);
        resealed++;
      });
    }
    this.#resealedUnder = current;
    return resealed;
  }

  /** Which key sealed each record on disk (from the id stored with it, or by trying each key), without changing any. */
  async keyUsage(): Promise<OutboxKeyUsage> {
    const usage: OutboxKeyUsage = { byKey: {}, unknown: 0 };
    for (const file of await this.#files()) {
      try {
        const { key } = this.#read(await readTextFileBounded(file, MAX_RECORD_BYTES, OWN_FILE));
        if (key === undefined) throw new Error("in clear");
        usage.byKey[key] = (usage.byKey[key] ?? 0) + 1;
      } catch {
        usage.unknown++;
      }
    }
    return usage;
  }

  async #files(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => n.endsWith(FILE_SUFFIX)).map((n) => join(this.dir, n));
    } catch {
      return [];
    }
  }

  /**
   * Every run record left on disk (by a previous process, or this one), oldest claim first. A
   * file that cannot be read or opened (corrupt, or sealed with another key) is reported to
   * `onBad` and left where it is: with the key it was sealed with, a later start resumes it. A
   * record of version 1 (run token in clear) is rewritten sealed at once.
   */
  async load(onBad: (file: string, reason: string) => void): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    // A write cut off by a crash leaves its temporary file; the record it replaced is intact.
    for (const name of names.filter((n) => n.startsWith(".") && n.endsWith(".tmp"))) await rm(join(this.dir, name), { force: true });
    const records: RunRecord[] = [];
    const upgraded: RunRecord[] = [];
    const current = this.#keys().current.id;
    for (const name of names.filter((n) => n.endsWith(FILE_SUFFIX))) {
      const file = join(this.dir, name);
      try {
        const { record, key } = this.#read(await readTextFileBounded(file, MAX_RECORD_BYTES, OWN_FILE));
        records.push(record);
        // In clear (version 1), or sealed with a key an outbox key rotation retired: reseal now.
        if (key !== current) upgraded.push(record);
      } catch (error) {
        onBad(file, errorMessage(error));
      }
    }
    // Failing to reseal one loses nothing: the record is resumed, and its next write seals it.
    for (const record of upgraded) await this.save(record).catch(() => {});
    this.#resealedUnder = current;
    return records.sort((a, b) => a.claimedAt - b.claimedAt);
  }

  /** A record file's text as a record, and the id of the key that opened it (undefined: version 1, in clear). */
  #read(text: string): { record: RunRecord; key?: string } {
    const value = JSON.parse(text) as { v?: unknown } | null;
    if (value !== null && typeof value === "object" && value.v === 1) return { record: checkRecord(value) };
    const f = value as Partial<RecordFile> | null;
    if (f === null || typeof f !== "object" || f.v !== 2 || typeof f.uuid !== "string" || typeof f.sealed !== "string") throw new Error("not a run record of this runner version");
    const { v: _v, key: hint, sealed, ...clear } = f;
    const opened = this.#keys().open(sealed, sealContext(f.uuid), typeof hint === "string" ? hint : undefined);
    const secret = JSON.parse(opened.plain) as Partial<SealedPart> | null;
    return { record: checkRecord({ ...clear, ...(secret !== null && typeof secret === "object" ? secret : {}) }), key: opened.key };
  }
}

function checkRecord(value: unknown): RunRecord {
  const r = value as Partial<RunRecord> | null;
  const ok =
    r !== null && typeof r === "object" && typeof r.uuid === "string" && typeof r.runToken === "string" &&
    typeof r.registerUrl === "string" && typeof r.updateUrl === "string" && typeof r.claimedAt === "number" &&
    (r.phase === "running" || r.phase === "handed_off" || r.phase === "ending") && typeof r.nextSeq === "number" &&
    Array.isArray(r.pending) && r.pending.every((op) => op !== null && typeof op === "object" && (op.kind === "register" || op.kind === "patch") && typeof op.body === "object");
  if (!ok) throw new Error("not a run record of this runner version");
  const record = r as RunRecord;
  return {
    uuid: record.uuid, runToken: record.runToken, registerUrl: record.registerUrl, updateUrl: record.updateUrl, claimedAt: record.claimedAt, phase: record.phase,
    workspace: typeof record.workspace === "string" ? record.workspace : "", implementationType: typeof record.implementationType === "string" ? record.implementationType : "",
    nextSeq: record.nextSeq, pending: record.pending,
  };
}

/** Merges a status update into an earlier one not yet sent: steps upsert by id, fields replace. */
export function mergeUpdates(older: Record<string, unknown>, newer: Record<string, unknown>): Record<string, unknown> {
  const steps = new Map<string, Record<string, unknown>>();
  for (const step of [...asSteps(older.steps), ...asSteps(newer.steps)]) {
    const id = String(step.id);
    steps.set(id, { ...(steps.get(id) ?? {}), ...step });
  }
  const merged: Record<string, unknown> = { ...older, ...newer };
  if (steps.size > 0) merged.steps = [...steps.values()];
  return merged;
}

function asSteps(value: unknown): Array<Record<string, unknown>> {
  return Array.isArray(value) ? (value.filter((s) => s !== null && typeof s === "object" && "id" in s) as Array<Record<string, unknown>>) : [];
}
