// The live edge sessions: at most one per runner (a newer one replaces the older), found by id,
// by runner, and round-robin among a group's sessions that have credit.

import type { EdgeSession } from "./session.ts";

/** WebSocket close codes from docs/protocol.md. */
export const CLOSE_DEREGISTERED = 4401;
export const CLOSE_REPLACED = 4409;

export class SessionRegistry {
  readonly #byId = new Map<string, EdgeSession>();
  readonly #byRunner = new Map<string, EdgeSession>();
  readonly #byGroup = new Map<string, EdgeSession[]>();
  /** Per group, where the next round-robin search starts. */
  readonly #cursor = new Map<string, number>();

  get size(): number {
    return this.#byId.size;
  }

  all(): IterableIterator<EdgeSession> {
    return this.#byId.values();
  }

  get(id: string): EdgeSession | undefined {
    return this.#byId.get(id);
  }

  ofRunner(runnerId: string): EdgeSession | undefined {
    return this.#byRunner.get(runnerId);
  }

  /** Adds `session`; returns the session it replaces (the caller closes it with 4409). */
  add(session: EdgeSession): EdgeSession | undefined {
    const previous = this.#byRunner.get(session.runnerId);
    if (previous !== undefined) this.remove(previous);
    this.#byId.set(session.id, session);
    this.#byRunner.set(session.runnerId, session);
    const group = this.#byGroup.get(session.group) ?? [];
    group.push(session);
    this.#byGroup.set(session.group, group);
    return previous;
  }

  remove(session: EdgeSession): boolean {
    if (this.#byId.get(session.id) !== session) return false;
    this.#byId.delete(session.id);
    if (this.#byRunner.get(session.runnerId) === session) this.#byRunner.delete(session.runnerId);
    const group = (this.#byGroup.get(session.group) ?? []).filter((s) => s !== session);
    if (group.length === 0) this.#byGroup.delete(session.group);
    else this.#byGroup.set(session.group, group);
    return true;
  }

  /** The next session of `group` with credit, round-robin, so a group's runners share its jobs. */
  nextWithCredit(group: string): EdgeSession | undefined {
    const sessions = this.#byGroup.get(group);
    if (sessions === undefined) return undefined;
    const start = this.#cursor.get(group) ?? 0;
    for (let i = 0; i < sessions.length; i++) {
      const index = (start + i) % sessions.length;
      const session = sessions[index] as EdgeSession;
      if (session.credit > 0 && !session.closed) {
        this.#cursor.set(group, index + 1);
        return session;
      }
    }
    return undefined;
  }
}
