// Session lifecycle on the controller side: create (after API key auth), replace an older one
// of the same runner, end on close/DELETE, and end long-poll sessions that went silent.

import type { StoredRunner } from "./records.ts";
import { EdgeError } from "../errors.ts";
import type { CreateSessionRequest, CreateSessionResponse, EdgeFeature } from "../protocol/edge-v1.ts";
import type { Timers } from "../util/time.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import { CLOSE_REPLACED } from "./session-registry.ts";
import { EdgeSession } from "./session.ts";
import type { SessionDirectory } from "./session-directory.ts";
import { sha256Hex } from "./tokens.ts";

/** The optional protocol features this controller handles, listed in every session answer: `release` (runner-messages.ts). */
export const CONTROLLER_FEATURES: readonly EdgeFeature[] = ["release"];

/** A long-poll session ends when no receive arrived for `pollWaitMs` plus this grace. */
export const POLL_GRACE_MS = 15_000;

export class EdgeSessions {
  readonly #core: ControllerCore;
  readonly #runners: RunnerRegistry;
  readonly #timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  /** PostgreSQL: every session gets a row, so other replicas can forward to it and list it. */
  readonly #directory: SessionDirectory | undefined;

  constructor(options: { core: ControllerCore; runners: RunnerRegistry; timer: Pick<Timers, "setTimeout" | "clearTimeout">; directory?: SessionDirectory }) {
    this.#core = options.core;
    this.#runners = options.runners;
    this.#timer = options.timer;
    this.#directory = options.directory;
  }

  /** Throws `unauthorized` (401) or `forbidden` (403); the request was validated before. */
  /** The runner these credentials belong to, or an unauthorized/forbidden EdgeError. */
  authorize(request: Pick<CreateSessionRequest, "runnerId" | "group">, apiKey: string | undefined, action = "create a session"): StoredRunner {
    const runner = this.#runners.authenticate(request.runnerId, apiKey);
    if (runner === undefined) {
      // One message for an unknown id and a wrong key, so ids cannot be probed.
      throw new EdgeError("unauthorized", `Cannot ${action} for runner "${request.runnerId}": unknown runner or wrong API key`);
    }
    if (runner.group !== request.group) {
      throw new EdgeError("forbidden", `Cannot ${action} for runner "${runner.id}": it is registered in group "${runner.group}", not "${request.group}"`);
    }
    return runner;
  }

  create(request: CreateSessionRequest, apiKey: string | undefined): CreateSessionResponse {
    const runner = this.authorize(request, apiKey);
    const session = new EdgeSession({
      runnerId: runner.id,
      group: runner.group,
      version: request.version,
      requestedTransport: request.transport,
      clock: this.#core.clock,
      timer: this.#timer,
      afterDurable: (deliver) => this.#core.store.commits.afterDurable(deliver),
    });
    const token = session.token as string;
    session.token = undefined;
    // Before anything else of this turn: a store that refuses changes refuses the session whole.
    this.#directory?.created(session, sha256Hex(token));
    const replaced = this.#core.sessions.add(session);
    if (replaced !== undefined) {
      this.#directory?.ended(replaced);
      replaced.close(CLOSE_REPLACED, "replaced by a newer session");
      this.#core.logger.info("Session replaced by a newer one", { runnerId: runner.id, sessionId: replaced.id });
    }
    this.#runners.touch(runner.id);
    this.#core.logger.info("Session created", { runnerId: runner.id, sessionId: session.id, transport: request.transport, version: request.version });
    const { heartbeatIntervalMs, leaseTtlMs, pollWaitMs } = this.#core.settings;
    return { v: 1, sessionId: session.id, token, heartbeatIntervalMs, leaseTtlMs, pollWaitMs, features: [...CONTROLLER_FEATURES] };
  }

  /**
   * Ends a session. Its leases stay: the runner's next session takes them over with a heartbeat,
   * or they expire. Queued offers are not re-sent (their lease is valid or will expire).
   */
  end(session: EdgeSession, why: string, code = 1000): void {
    const removed = this.#core.sessions.remove(session);
    if (removed) this.#directory?.ended(session);
    session.close(code, why);
    if (removed) this.#core.logger.info("Session ended", { runnerId: session.runnerId, sessionId: session.id, why });
  }

  /** Ends sessions with no WebSocket and no long-poll call for `pollWaitMs + 15 s`. */
  sweep(): number {
    const now = this.#core.clock.now();
    const limit = this.#core.settings.pollWaitMs + POLL_GRACE_MS;
    let ended = 0;
    for (const session of [...this.#core.sessions.all()]) {
      if (session.hasSocket || session.receiving) continue;
      if (now - session.lastPollAt > limit) {
        this.end(session, "no long-poll receive in time");
        ended++;
      }
    }
    return ended;
  }
}
