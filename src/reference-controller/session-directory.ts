// Where every replica's edge sessions are (PostgreSQL only): this replica writes a row for each
// session it creates (in the store's batch, so durable before the creation is answered) and
// deletes it when the session ends; it refreshes `lastSeenAt` of its rows periodically, and a row
// not refreshed within the session expiry (its replica died) is ignored and deleted. The other
// replicas read it to forward long-poll requests (session-forward.ts) and to show a runner as
// connected wherever its session is.

import type { Logger } from "../log/logger.ts";
import type { Clock, Timers } from "../util/time.ts";
import type { EdgeSession } from "./session.ts";
import type { SessionRow, SessionRows } from "./store-seam.ts";

export interface SessionDirectoryOptions {
  rows: SessionRows;
  timer: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  logger: Logger;
  /** How long a session lives without a sign of life (`pollWaitMs` + the poll grace). */
  expiryMs: number;
  /** The URL the other replicas reach this one at (`advertiseUrl`, default the listen URL). */
  advertiseUrl: () => string;
}

export class SessionDirectory {
  readonly #options: SessionDirectoryOptions;
  #beat: unknown;
  #stopped = false;

  constructor(options: SessionDirectoryOptions) {
    this.#options = options;
  }

  /** A directory over the store's session rows; none for a store without them (embedded). */
  static over(rows: SessionRows | undefined, options: Omit<SessionDirectoryOptions, "rows" | "timer"> & { clock: Clock; timer: Pick<Timers, "setTimeout" | "clearTimeout"> }): SessionDirectory | undefined {
    if (rows === undefined) return undefined;
    const { clock, timer, ...rest } = options;
    return new SessionDirectory({ ...rest, rows, timer: { now: () => clock.now(), setTimeout: (callback, ms) => timer.setTimeout(callback, ms), clearTimeout: (handle) => timer.clearTimeout(handle) } });
  }

  get replicaId(): string {
    return this.#options.rows.replicaId;
  }

  /** Refreshes this replica's rows well within the expiry, so the others never see them stale. */
  start(): void {
    const every = Math.max(250, Math.min(5_000, Math.floor(this.#options.expiryMs / 3)));
    const tick = () => {
      if (this.#stopped) return;
      const now = this.#options.timer.now();
      this.#options.rows.heartbeat(now, now - this.#options.expiryMs).then(
        () => {},
        (error: unknown) => this.#options.logger.debug("Cannot refresh this replica's sessions in the database; retrying", { error: String(error).slice(0, 200) }),
      ).finally(() => {
        if (!this.#stopped) this.#beat = this.#options.timer.setTimeout(tick, every);
      });
    };
    this.#beat = this.#options.timer.setTimeout(tick, every);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#beat !== undefined) this.#options.timer.clearTimeout(this.#beat);
  }

  created(session: EdgeSession, tokenHash: string): void {
    const now = this.#options.timer.now();
    this.#options.rows.put({
      id: session.id,
      runnerId: session.runnerId,
      group: session.group,
      replicaId: this.replicaId,
      advertiseUrl: this.#options.advertiseUrl(),
      tokenHash,
      createdAt: session.createdAt,
      lastSeenAt: now,
    });
  }

  ended(session: EdgeSession): void {
    this.#options.rows.remove(session.id);
  }

  /** The live row of a session another replica holds; undefined if none (or the database cannot say). */
  async remote(id: string): Promise<SessionRow | undefined> {
    try {
      const row = await this.#options.rows.find(id, this.#freshSince());
      return row === undefined || row.replicaId === this.replicaId ? undefined : row;
    } catch (error) {
      this.#options.logger.debug("Cannot look a session up in the database", { error: String(error).slice(0, 200) });
      return undefined;
    }
  }

  /** Runners with a live session on another replica (empty if the database cannot say). */
  async remoteRunners(): Promise<Set<string>> {
    try {
      const rows = await this.#options.rows.live(this.#freshSince());
      return new Set(rows.filter((row) => row.replicaId !== this.replicaId).map((row) => row.runnerId));
    } catch {
      return new Set();
    }
  }

  /**
   * Live sessions of every replica, this one's included; undefined if the database cannot say
   * within `timeoutMs` (health must answer even when the database does not).
   */
  async liveCount(timeoutMs = 2_000): Promise<number | undefined> {
    let handle: unknown;
    const late = new Promise<undefined>((resolve) => (handle = this.#options.timer.setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      const rows = this.#options.rows.live(this.#freshSince()).then((live) => live.length, () => undefined);
      return await Promise.race([rows, late]);
    } finally {
      this.#options.timer.clearTimeout(handle);
    }
  }

  #freshSince(): number {
    return this.#options.timer.now() - this.#options.expiryMs;
  }
}
