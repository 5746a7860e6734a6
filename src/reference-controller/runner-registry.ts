// Registered runners: registration with a one-time API key (only its hash is kept), key
// rotation, deregistration, authentication of session requests, and pending/active/error status.

import { EdgeError } from "../errors.ts";
import type { Clock } from "../util/time.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { RunnerPublicJwk } from "../secrets/key-ring.ts";
import type { StoredRunner } from "./records.ts";
import { CLOSE_DEREGISTERED } from "./session-registry.ts";
import { matchesHash, randomToken, sha256Hex } from "./tokens.ts";

export type RunnerStatus = "pending" | "active" | "error";

/** A runner silent for longer than this is shown as `error`. */
export const ACTIVE_WINDOW_MS = 5 * 60_000;
/** `lastSeenAt` is kept exactly in memory but written to the journal at most this often. */
const LAST_SEEN_PERSIST_MS = 60_000;

export interface RunnerInfo {
  id: string;
  group: string;
  status: RunnerStatus;
  lastSeenAt?: number;
  registeredAt: number;
  connected: boolean;
  transport?: "websocket" | "poll";
  version?: string;
  runningJobs: number;
  publicKey?: string;
  /** Ids of the encryption keys the runner told, current first. */
  keyIds?: string[];
}

export interface RegisterRunnerInput {
  id: string;
  group?: string;
  publicKey?: string;
  /** Issue a new key for an existing runner instead of answering 409. */
  rotate?: boolean;
}

export function runnerStatus(lastSeenAt: number | undefined, now: number): RunnerStatus {
  if (lastSeenAt === undefined) return "pending";
  return now - lastSeenAt <= ACTIVE_WINDOW_MS ? "active" : "error";
}

export class RunnerRegistry {
  readonly #core: ControllerCore;
  readonly #clock: Clock;
  /** Exact last contact per runner (the store holds a value at most a minute old). */
  readonly #lastSeen = new Map<string, number>();

  constructor(core: ControllerCore) {
    this.#core = core;
    this.#clock = core.clock;
  }

  /** Returns the new API key: the only time it exists outside the runner. */
  register(input: RegisterRunnerInput): { id: string; group: string; apiKey: string; rotated: boolean } {
    const existing = this.#core.store.runners.get(input.id);
    if (existing !== undefined && input.rotate !== true) {
      throw new EdgeError("conflict", `Cannot register runner "${input.id}": it is already registered (use rotate=true for a new key)`);
    }
    const apiKey = randomToken();
    const runner: StoredRunner = {
      ...existing,
      id: input.id,
      group: input.group ?? existing?.group ?? "default",
      apiKeyHash: sha256Hex(apiKey),
      registeredAt: existing?.registeredAt ?? this.#clock.now(),
      ...(input.publicKey === undefined ? {} : { publicKey: input.publicKey }),
    };
    this.#core.store.commit([{ t: "runner", runner }]);
    this.#core.logger.info(existing === undefined ? "Runner registered" : "Runner API key rotated", { runnerId: runner.id, group: runner.group });
    return { id: runner.id, group: runner.group, apiKey, rotated: existing !== undefined };
  }

  /**
   * `register()`, answered once durable and landed. On PostgreSQL replicas a registration made on
   * a view that has not heard of another replica's registration of the same id loses (the other
   * key stands): 409, as if this replica had known. A rotation that lost (the runner was
   * registered or deregistered elsewhere meanwhile) is made again on the row as it is now.
   */
  async registerLanded(input: RegisterRunnerInput): Promise<{ id: string; group: string; apiKey: string; rotated: boolean }> {
    for (let tries = 1; ; tries++) {
      // Asked before the change: a batch may be taken as the change is made (a synchronous schedule).
      const landed = this.#core.store.runnerWriteLanded?.(input.id);
      const created = this.register(input);
      await this.#core.store.durable();
      if (landed === undefined || landed()) return created;
      this.#core.logger.info("Runner registration lost to another replica's change of the runner", { runnerId: input.id, rotate: input.rotate === true });
      if (input.rotate !== true) {
        throw new EdgeError("conflict", `Cannot register runner "${input.id}": it is already registered (use rotate=true for a new key)`);
      }
      if (tries >= 5) throw new EdgeError("conflict", `Cannot rotate the key of runner "${input.id}": other controller replicas kept changing it (5 tries); try again`, { retryable: true });
    }
  }

  /** Removes the runner and closes its session with 4401; its leases expire and re-queue. */
  deregister(id: string): void {
    if (!this.#core.store.runners.has(id)) throw new EdgeError("not_found", `Cannot deregister runner "${id}": no such runner`);
    this.#core.store.commit([{ t: "runner_deleted", id }]);
    this.forget(id);
    this.#core.logger.info("Runner deregistered", { runnerId: id });
  }

  /** A runner gone from the store (here, or deregistered through another replica): its session ends with 4401. */
  forget(id: string): void {
    const session = this.#core.sessions.ofRunner(id);
    if (session !== undefined) {
      this.#core.sessions.remove(session);
      session.close(CLOSE_DEREGISTERED, "runner deregistered");
    }
    this.#lastSeen.delete(id);
  }

  /** The runner if `apiKey` is its key; undefined for an unknown id or a wrong key alike. */
  authenticate(runnerId: string, apiKey: string | undefined): StoredRunner | undefined {
    const runner = this.#core.store.runners.get(runnerId);
    // Hash anyway for an unknown id, so timing does not reveal which ids exist.
    const ok = matchesHash(apiKey, runner?.apiKeyHash ?? sha256Hex(randomToken()));
    return ok ? runner : undefined;
  }

  /**
   * Whether `apiKey` is the key of some registered runner: checked before a request body is read,
   * so a caller without a key cannot make the controller read (and hold) anything.
   */
  knowsKey(apiKey: string | undefined): boolean {
    if (apiKey === undefined || apiKey === "") return false;
    let found = false;
    for (const runner of this.#core.store.runners.values()) if (matchesHash(apiKey, runner.apiKeyHash)) found = true;
    return found;
  }

  /** Records contact from a runner; durable at most once a minute (status granularity is minutes). */
  touch(runnerId: string): void {
    const now = this.#clock.now();
    this.#lastSeen.set(runnerId, now);
    const runner = this.#core.store.runners.get(runnerId);
    if (runner !== undefined && (runner.lastSeenAt === undefined || now - runner.lastSeenAt >= LAST_SEEN_PERSIST_MS)) {
      this.#core.store.commit([{ t: "runner", runner: { ...runner, lastSeenAt: now } }]);
    }
  }

  /** Stores the encryption keys a runner told (already checked); durable only when they changed. */
  setEncryptionKeys(runnerId: string, keys: RunnerPublicJwk[]): void {
    const runner = this.#core.store.runners.get(runnerId);
    if (runner === undefined) return;
    const before = (runner.encryptionKeys ?? []).map((key) => key.kid).join(",");
    if (before === keys.map((key) => key.kid).join(",")) return;
    this.#core.store.commit([{ t: "runner", runner: { ...runner, encryptionKeys: keys } }]);
    this.#core.logger.info("Runner encryption keys updated", { runnerId, current: keys[0]?.kid, keys: keys.length });
  }

  /** The current encryption key of every runner of `group` that told one, one per key id. */
  groupKeys(group: string): RunnerPublicJwk[] {
    const keys = new Map<string, RunnerPublicJwk>();
    for (const runner of this.#core.store.runners.values()) {
      const current = runner.group === group ? runner.encryptionKeys?.[0] : undefined;
      if (current !== undefined) keys.set(current.kid, current);
    }
    return [...keys.values()];
  }

  lastSeenAt(runner: StoredRunner): number | undefined {
    return this.#lastSeen.get(runner.id) ?? runner.lastSeenAt;
  }

  /** PostgreSQL replicas: the runners with a live session on another replica (session-directory.ts). */
  remoteSessions: (() => Promise<ReadonlySet<string>>) | undefined;

  /** `list()`, with `connected` true for a runner whose session is on another live replica too. */
  async listEverywhere(): Promise<RunnerInfo[]> {
    const remote = this.remoteSessions === undefined ? new Set<string>() : await this.remoteSessions();
    return this.list().map((info) => (!info.connected && remote.has(info.id) ? { ...info, connected: true } : info));
  }

  list(): RunnerInfo[] {
    const now = this.#clock.now();
    return [...this.#core.store.runners.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((runner) => this.info(runner, now));
  }

  info(runner: StoredRunner, now = this.#clock.now()): RunnerInfo {
    const session = this.#core.sessions.ofRunner(runner.id);
    const lastSeenAt = this.lastSeenAt(runner);
    return {
      id: runner.id,
      group: runner.group,
      status: runnerStatus(lastSeenAt, now),
      ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
      registeredAt: runner.registeredAt,
      connected: session !== undefined && !session.closed,
      ...(session?.transport === undefined ? {} : { transport: session.transport }),
      ...(session === undefined ? {} : { version: session.version }),
      runningJobs: this.#core.leasedBy(runner.id),
      ...(runner.publicKey === undefined ? {} : { publicKey: runner.publicKey }),
      ...(runner.encryptionKeys === undefined ? {} : { keyIds: runner.encryptionKeys.map((key) => key.kid) }),
    };
  }
}
