// Opens the PostgreSQL store: the only file the controller imports (dynamically) when `storeUrl`
// is set, so the driver and everything under postgres/ stay unloaded otherwise. Connects,
// migrates, loads the view, pings while idle (a lost connection flips the store to failed), and
// after a failure reconnects with backoff and reloads the view from the database.

import { randomBytes } from "node:crypto";
import postgres, { type Sql } from "postgres";
import { EdgeError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { realTimers, type Timers } from "../../util/time.ts";
import { GroupCommit, type GroupCommitOptions } from "../group-commit.ts";
import type { StoreBackend } from "../store-seam.ts";
import { migrate } from "./migrations.ts";
import { listenToReplicas } from "./pg-listen.ts";
import { PgJobLogs } from "./pg-job-logs.ts";
import { PgStore } from "./pg-store.ts";
import { pgSessionRows } from "./pg-sessions.ts";

export interface OpenPostgresOptions {
  /** postgres://user@host:port/db, without a password (server-config.ts refuses one). */
  url: string;
  password?: string;
  logger: Logger;
  commit?: GroupCommitOptions;
  jobMaxBytes?: number;
  maxBytes?: number;
  /** Makes a connection pool (tests: one that strands its queries). */
  connect?: () => Sql;
  /** How long a reconnect waits for the database's answer before taking a new pool (default 10 s). */
  probeTimeoutMs?: number;
  /** How often an idle store checks its connection (default 2 s). */
  pingMs?: number;
  timer?: Pick<Timers, "setTimeout" | "clearTimeout">;
}

const MAX_BACKOFF_MS = 10_000;

export async function openPostgresBackend(options: OpenPostgresOptions): Promise<StoreBackend> {
  const logger = options.logger.child({ store: "postgres" });
  const timer = options.timer ?? realTimers;
  const connect = options.connect ?? (() => postgres(options.url, {
    ...(options.password === undefined ? {} : { password: options.password }),
    max: 4,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "edge-runner controller" },
  }));
  // A pool can be left without an answer (postgres 3.4.9 left every connection of one unable to
  // connect after backends died mid-write, fixed by scripts/patch-dependencies.mjs), so a reconnect
  // that gets no answer takes a new pool as a fallback; everything holds this handle, never the pool.
  let client = connect();
  const abandoned: Sql[] = [];
  const sql = swappable(() => client);
  try {
    await migrate(sql, logger);
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("store_unavailable", `Cannot open the PostgreSQL store at "${redactUrl(options.url)}": ${errorMessage(error).slice(0, 300)}`, { cause: error });
  }
  const commits = new GroupCommit({ logger, recovery: "until PostgreSQL answers again and the view is reloaded from it", ...options.commit });
  const store = new PgStore({ sql, logger, commits, replicaId: randomBytes(6).toString("base64url") });
  const logs = new PgJobLogs({ store, logger, ...(options.jobMaxBytes === undefined ? {} : { jobMaxBytes: options.jobMaxBytes }), ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }) });
  // Listening first: a change committed while the view loads is applied after it, not missed.
  const listener = await listenToReplicas(store, logs, logger);
  await Promise.all([store.load(), logs.load()]);
  listener.start();

  let stopped = false;
  let ping: unknown;
  const schedulePing = () => {
    if (stopped) return;
    ping = timer.setTimeout(() => {
      if (stopped || commits.failure !== undefined || !commits.idle) return schedulePing();
      // Bounded: a ping through a stranded pool would never settle, and never ping again.
      within(options.probeTimeoutMs ?? 10_000, sql`SELECT 1`).then(
        () => schedulePing(),
        (error: unknown) => {
          if (stopped) return;
          commits.failNow(new Error(`the PostgreSQL connection was lost (${errorMessage(error).slice(0, 200)})`));
          schedulePing();
        },
      );
    }, options.pingMs ?? 2_000);
  };
  schedulePing();

  return {
    store,
    logs,
    commits,
    sql,
    sessionRows: pgSessionRows(store),
    startRecovery(onRecovered) {
      let attempt = 0;
      let handle: unknown;
      let done = false;
      const tryOnce = async () => {
        if (done || stopped) return;
        try {
          // Bounded: a query the driver never settles must not stop the retries; no answer at
          // all may be a stranded pool, so the next try goes through a new one.
          const probeMs = options.probeTimeoutMs ?? 10_000;
          await within(probeMs, sql`SELECT 1`).catch((error: unknown) => {
            if (!(error instanceof NoAnswer)) throw error;
            // The old pool is ended at stop, not now: it also carries the LISTEN connection
            // (pg-listen.ts), which reconnects on its own and must keep hearing other replicas.
            abandoned.push(client);
            client = connect();
            logger.warn("No answer from PostgreSQL; reconnecting through a new connection pool", { attempt: attempt + 1 });
            throw error;
          });
          // Nothing is written meanwhile (the store refuses changes); a batch still out on the lost
          // connection ends in its own failure first, then the next try recovers.
          await within(60_000, Promise.all([store.load(), logs.load()]));
          if (!commits.recover()) throw new Error("a batch on the lost connection has not ended yet");
          done = true;
          logger.warn("Reconnected to PostgreSQL and reloaded the controller's view from it", { attempts: attempt + 1 });
          onRecovered();
        } catch (error) {
          attempt++;
          const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(attempt, 10));
          logger.warn("Cannot reach PostgreSQL yet; retrying", { attempt, delayMs: delay, error: errorMessage(error).slice(0, 200) });
          handle = timer.setTimeout(() => void tryOnce(), delay);
        }
      };
      handle = timer.setTimeout(() => void tryOnce(), 250);
      return () => {
        done = true;
        if (handle !== undefined) timer.clearTimeout(handle);
      };
    },
    watchRemote(apply) {
      store.onRemoteChange = ({ jobs, deleted }) => apply.jobs(jobs, deleted);
      store.onRunnersGone = (ids) => apply.runnersGone(ids);
    },
    async stop() {
      stopped = true;
      if (ping !== undefined) timer.clearTimeout(ping);
      await listener.stop();
      // Not awaited: ending a stranded pool can wait forever (timeout 0 destroys its sockets).
      for (const pool of abandoned.splice(0)) void pool.end({ timeout: 0 }).catch(() => {});
    },
  };
}

class NoAnswer extends Error {}

/** `promise`, or a rejection once `ms` passed without it settling. */
function within<T>(ms: number, promise: PromiseLike<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new NoAnswer(`no answer from PostgreSQL within ${ms} ms`)), ms)));
  return Promise.race([Promise.resolve(promise), late]).finally(() => clearTimeout(timer));
}

/** A handle that always calls the current pool (tagged queries, begin, json, array, end…). */
function swappable(current: () => Sql): Sql {
  return new Proxy(function () {} as unknown as Sql, {
    apply: (_target, _this, args: unknown[]) => (current() as unknown as (...a: unknown[]) => unknown)(...args),
    get: (_target, key) => {
      const pool = current() as unknown as Record<PropertyKey, unknown>;
      const value = pool[key];
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(pool) : value;
    },
  });
}

/** The URL as logs may show it: never a password (there is none; this is belt and braces). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
