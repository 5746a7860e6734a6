// The WebSocket attach of a session another replica holds (PostgreSQL only), relayed: a load
// balancer without affinity may send a runner's upgrade to any replica. The rules are the
// long-poll hop's (`sessionOwner`, session-forward.ts): only a live row's advertised URL, the
// token checked against that row's hash before any hop, FORWARDED_HEADER on the hop and never a
// second hop. This replica opens a WebSocket to the owner (same path and query, so the same
// single-use token, which the owner consumes) and only once that is open accepts the runner's
// upgrade; then it passes every frame on, both ways, as it came. Owner unreachable: 404, as
// before, and the runner creates a new session.
//
// Bounds, as on a direct attach: a frame over the server's WebSocket message cap closes both
// sides with 1009 (the runner's frames are capped by the server itself). Backpressure: when one
// side's send queue passes RELAY_PAUSE_BYTES, the relay stops reading the other side (Bun's
// sockets and `ws` on Node can pause: the sender then meets TCP backpressure) and reads it again
// once the queue is under RELAY_RESUME_BYTES (Bun's drain, else checked every RELAY_DRAIN_CHECK_MS),
// so a slow reader loses and reorders nothing. Where reading cannot pause (Deno), or a queue still
// passes RELAY_MAX_QUEUED_BYTES (below Bun's 16 MiB, past which its send drops frames), both sides
// are closed with 1013, never buffered further (the runner reconnects and replays its outbox, as
// after any lost session). A side that closes closes the other with its code when that code can
// be sent on (1000, 1001, 1007-1014, 4000s), else with 1001.

import type { Context } from "hono";
import type { WSContext, WSEvents } from "hono/ws";
import type { Logger } from "../log/logger.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../platform/http-server.ts";
import type { DrainableEvents } from "../platform/http-server.ts";
import { openWebSocketWithHeaders, pauseReading, resumeReading, sendOnServerSocket, serverSocketBufferedAmount } from "../platform/websocket.ts";
import type { Timers } from "../util/time.ts";
import { errorResponse } from "./http-helpers.ts";
import type { SessionDirectory } from "./session-directory.ts";
import { FORWARDED_HEADER, FORWARD_MARGIN_MS, logUnreachableOwner, sessionOwner } from "./session-forward.ts";

/** Bytes a relay lets wait in either side's send queue before it gives up on that side. */
export const RELAY_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** A send queue past this stops the relay reading the side that fills it (where the runtime can pause a socket). */
export const RELAY_PAUSE_BYTES = 1024 * 1024;
/** ... and under this, it reads that side again. */
export const RELAY_RESUME_BYTES = 256 * 1024;
/** While a side is paused, how often the other's queue is looked at (Bun's server socket also says when it drained). */
export const RELAY_DRAIN_CHECK_MS = 10;
/** The owner's socket must open within this, and the runner's upgrade complete within it after. */
const RELAY_OPEN_MS = FORWARD_MARGIN_MS;
const CLOSE_TOO_BIG = 1009;
const CLOSE_TRY_LATER = 1013;
const CLOSE_GOING_AWAY = 1001;

type Frame = string | ArrayBuffer | ArrayBufferView | Blob;

export interface SessionRelaysOptions {
  directory: SessionDirectory;
  logger: Logger;
  timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  /** The client WebSocket to the owner (tests may pass another). */
  connect?: (url: string, headers: Record<string, string>) => WebSocket;
}

export class SessionRelays {
  readonly #options: SessionRelaysOptions;
  readonly #open = new Set<Relay>();

  constructor(options: SessionRelaysOptions) {
    this.#options = options;
  }

  /** Relays open now (the runner's socket here, the owner's there). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * For an attach of session `id`, which this replica does not hold: a 401 response (wrong
   * token, nothing sent anywhere), undefined (answer 404: no live owner elsewhere, a forwarded
   * attach, not an upgrade, or the owner cannot be reached), or the events of the upgrade, the
   * owner's socket open.
   */
  async attach(c: Context, id: string): Promise<Response | (WSEvents & DrainableEvents) | undefined> {
    const owner = await sessionOwner(this.#options.directory, c, id, c.req.query("token"));
    if (owner === "unauthorized") return errorResponse(c, 401, "unauthorized", "Wrong, missing or already used session token");
    // A plain GET is no attach: nothing to relay (the token was checked all the same).
    if (owner === undefined || c.req.header("upgrade")?.toLowerCase() !== "websocket") return undefined;
    const url = new URL(c.req.url);
    const target = `${owner.base.replace(/^http/, "ws")}${url.pathname}${url.search}`;
    const connect = this.#options.connect ?? ((to, headers) => openWebSocketWithHeaders(to, { headers, maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES }));
    const relay = new Relay(this.#options, id, () => this.#open.delete(relay));
    try {
      await relay.connect(connect(target, { [FORWARDED_HEADER]: this.#options.directory.replicaId }));
    } catch (error) {
      logUnreachableOwner(this.#options.logger, id, owner, error);
      return undefined;
    }
    this.#open.add(relay);
    return relay.events();
  }

  /** Closes every relay (both sides), for a stopping controller. */
  closeAll(code: number, reason: string): void {
    for (const relay of [...this.#open]) relay.close(code, reason);
  }
}

/** Whether a close code received on one side may be sent on the other (RFC 6455, 7.4). */
function relayable(code: number): boolean {
  return code === 1000 || code === 1001 || (code >= 1007 && code <= 1014) || (code >= 4000 && code <= 4999);
}

/** A close reason fits in 123 bytes of UTF-8. */
function shortReason(reason: string): string {
  let short = reason.slice(0, 123);
  while (Buffer.byteLength(short) > 123) short = short.slice(0, -1);
  return short;
}

function sizeOf(frame: Frame): number {
  if (typeof frame === "string") return frame.length * 3 <= MAX_WEBSOCKET_MESSAGE_BYTES ? frame.length : Buffer.byteLength(frame);
  if (frame instanceof Blob) return frame.size;
  return frame.byteLength;
}

class Relay {
  readonly #options: SessionRelaysOptions;
  readonly #id: string;
  readonly #onDone: () => void;
  #owner: WebSocket | undefined;
  #runner: WSContext | undefined;
  /** What the owner sent before the runner's socket opened (the owner flushes its outbox at once). */
  #early: Frame[] = [];
  #earlyBytes = 0;
  #closed = false;
  /** Hono's WSContext on Bun keeps the readyState of its creation: the runner's close is tracked here. */
  #runnerClosed = false;
  /** How the owner's side ended before the runner's socket opened, passed on once it does. */
  #ownerClose: { code: number; reason: string } = { code: CLOSE_GOING_AWAY, reason: "" };
  #upgradeTimer: unknown;
  /** Reading the owner's socket is paused until the runner's queue drains (or the runner's upgrade completes). */
  #ownerPaused = false;
  /** Reading the runner's socket is paused until the owner's queue drains. */
  #runnerPaused = false;
  #drainTimer: unknown;

  constructor(options: SessionRelaysOptions, id: string, onDone: () => void) {
    this.#options = options;
    this.#id = id;
    this.#onDone = onDone;
  }

  /** Resolves once the owner's socket is open; rejects if it closes or errs first, or takes too long. */
  connect(owner: WebSocket): Promise<void> {
    this.#owner = owner;
    owner.binaryType = "arraybuffer";
    return new Promise<void>((resolve, reject) => {
      const timer = this.#options.timer;
      const handle = timer.setTimeout(() => {
        fail(new Error(`no answer within ${RELAY_OPEN_MS} ms`));
      }, RELAY_OPEN_MS);
      let opened = false;
      const fail = (error: Error) => {
        timer.clearTimeout(handle);
        if (opened) return;
        this.#closed = true;
        try {
          owner.close();
        } catch {
          // Never opened: nothing to close.
        }
        reject(error);
      };
      owner.onopen = () => {
        timer.clearTimeout(handle);
        opened = true;
        // The runner's upgrade normally completes at once; one that never does must not hold the owner's socket.
        this.#upgradeTimer = timer.setTimeout(() => {
          if (this.#runner === undefined) this.close(CLOSE_GOING_AWAY, "the runner's upgrade did not complete");
        }, RELAY_OPEN_MS);
        resolve();
      };
      owner.onerror = (event) => {
        // The runtime's message may quote the URL, whose query holds the session token.
        const message = (event as { message?: string }).message ?? "WebSocket error";
        if (!opened) fail(new Error(message.replace(/token=[^&\s'"]*/g, "token=<redacted>")));
      };
      owner.onclose = (event) => {
        if (!opened) return fail(new Error(`WebSocket closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`));
        this.#closeRunner(event.code, event.reason);
      };
      owner.onmessage = (event) => this.#fromOwner(event.data as Frame);
    });
  }

  events(): WSEvents & DrainableEvents {
    return {
      onOpen: (_event, ws) => {
        this.#options.timer.clearTimeout(this.#upgradeTimer);
        this.#runner = ws;
        if (this.#closed) return this.#closeRunner(this.#ownerClose.code, this.#ownerClose.reason);
        const early = this.#early;
        this.#early = [];
        this.#earlyBytes = 0;
        for (const frame of early) this.#toRunner(frame);
        this.#checkDrained();
      },
      onDrain: () => this.#checkDrained(),
      onMessage: (event) => this.#fromRunner(event.data as Frame),
      onClose: (event) => {
        this.#runnerClosed = true;
        this.#closeOwner(event.code, event.reason);
      },
      onError: () => {
        this.#runnerClosed = true;
        this.#closeOwner(CLOSE_GOING_AWAY, "the runner's socket failed");
      },
    };
  }

  /** Closes both sides with `code` (a stopping controller, a bound passed). */
  close(code: number, reason: string): void {
    this.#closeRunner(code, reason);
    this.#closeOwner(code, reason);
  }

  #fromOwner(frame: Frame): void {
    if (this.#closed) return;
    const size = sizeOf(frame);
    if (size > MAX_WEBSOCKET_MESSAGE_BYTES) return this.close(CLOSE_TOO_BIG, "frame too large");
    if (this.#runner === undefined) {
      this.#earlyBytes += size;
      if (this.#earlyBytes > RELAY_MAX_QUEUED_BYTES) return this.close(CLOSE_TRY_LATER, "relay queue full");
      this.#early.push(frame);
      // Held until the runner's socket opens: the owner waits as for a slow runner.
      if (this.#earlyBytes > RELAY_PAUSE_BYTES) this.#pauseOwner();
      return;
    }
    this.#toRunner(frame, size);
  }

  #toRunner(frame: Frame, size = sizeOf(frame)): void {
    const runner = this.#runner as WSContext;
    if (this.#runnerClosed) return;
    if (this.#runnerQueued() + size > RELAY_MAX_QUEUED_BYTES) return this.close(CLOSE_TRY_LATER, "relay queue full");
    try {
      if (sendOnServerSocket(runner, frame, size) === "dropped") return this.close(CLOSE_TRY_LATER, "relay queue full");
    } catch {
      // The runner's socket closed under us: its close handler closes the owner's.
      return;
    }
    if (this.#runnerQueued() > RELAY_PAUSE_BYTES) this.#pauseOwner();
  }

  #fromRunner(frame: Frame): void {
    const owner = this.#owner as WebSocket;
    if (this.#closed || owner.readyState !== 1) return;
    const size = sizeOf(frame);
    if (size > MAX_WEBSOCKET_MESSAGE_BYTES) return this.close(CLOSE_TOO_BIG, "frame too large");
    if (owner.bufferedAmount + size > RELAY_MAX_QUEUED_BYTES) return this.close(CLOSE_TRY_LATER, "relay queue full");
    try {
      owner.send(frame as string);
    } catch {
      // Closing under us: its close handler closes the runner's side.
      return;
    }
    if (owner.bufferedAmount > RELAY_PAUSE_BYTES && !this.#runnerPaused && this.#runner !== undefined && pauseReading(this.#runner.raw)) {
      this.#runnerPaused = true;
      this.#watchDrain();
    }
  }

  #runnerQueued(): number {
    return this.#runner === undefined ? this.#earlyBytes : serverSocketBufferedAmount(this.#runner.raw);
  }

  #pauseOwner(): void {
    if (this.#ownerPaused || !pauseReading(this.#owner)) return;
    this.#ownerPaused = true;
    this.#watchDrain();
  }

  /** While a side is paused, looks at the other's queue until it is under RELAY_RESUME_BYTES. */
  #watchDrain(): void {
    if (this.#drainTimer !== undefined) return;
    this.#drainTimer = this.#options.timer.setTimeout(() => {
      this.#drainTimer = undefined;
      this.#checkDrained();
      if (!this.#closed && (this.#ownerPaused || this.#runnerPaused)) this.#watchDrain();
    }, RELAY_DRAIN_CHECK_MS);
  }

  /** Reads again a side paused for a queue that has drained (the runner's only once its socket is open). */
  #checkDrained(): void {
    if (this.#closed) return;
    if (this.#ownerPaused && this.#runner !== undefined && this.#runnerQueued() <= RELAY_RESUME_BYTES) {
      this.#ownerPaused = false;
      resumeReading(this.#owner);
    }
    if (this.#runnerPaused && (this.#owner as WebSocket).bufferedAmount <= RELAY_RESUME_BYTES) {
      this.#runnerPaused = false;
      resumeReading(this.#runner?.raw);
    }
  }

  #closeRunner(code: number, reason: string): void {
    this.#finish();
    const runner = this.#runner;
    const [passed, why] = relayable(code) ? [code, reason] : [CLOSE_GOING_AWAY, "the replica holding the session went away"];
    if (runner === undefined) {
      this.#ownerClose = { code: passed, reason: why };
      return;
    }
    if (this.#runnerClosed) return;
    this.#runnerClosed = true;
    try {
      runner.close(passed, shortReason(why));
    } catch {
      // Already closing.
    }
  }

  #closeOwner(code: number, reason: string): void {
    this.#finish();
    const owner = this.#owner;
    if (owner === undefined || owner.readyState > 1) return;
    const [passed, why] = relayable(code) ? [code, reason] : [CLOSE_GOING_AWAY, "the runner's socket closed"];
    try {
      owner.close(passed, shortReason(why));
    } catch {
      // Already closing.
    }
  }

  #finish(): void {
    if (!this.#closed) this.#options.logger.debug("WebSocket relay to the replica holding a session ended", { sessionId: this.#id });
    this.#closed = true;
    this.#early = [];
    this.#options.timer.clearTimeout(this.#upgradeTimer);
    this.#options.timer.clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#onDone();
  }
}
