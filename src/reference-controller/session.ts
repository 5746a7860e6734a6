// One edge session of one runner: its token, its credit, and its outgoing message stream, which
// a WebSocket drains at once or a long-poll `receive` takes in batches. Every message leaves only
// after the changes made before it are durable (group commit), in the order it was sent.

import type { ControllerMessage } from "../protocol/edge-v1.ts";
import type { Clock, Timers } from "../util/time.ts";
import { WarnLimiter } from "../log/warn-limiter.ts";
import { matchesHash, randomToken, sha256Hex } from "./tokens.ts";

export type SessionTransport = "websocket" | "poll";

/** The part of a server-side WebSocket the session needs (Hono's WSContext fits). */
export interface SessionSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface EdgeSessionOptions {
  runnerId: string;
  group: string;
  version: string;
  requestedTransport: SessionTransport;
  clock: Clock;
  timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  /** Runs `deliver` once every change made so far is durable (default: at once). */
  afterDurable?: (deliver: () => void) => void;
}

const MAX_BATCH = 500;
const MAX_RECEIVE_CHARS = 4 * 1024 * 1024;

export class EdgeSession {
  readonly id: string;
  readonly runnerId: string;
  readonly group: string;
  readonly version: string;
  readonly requestedTransport: SessionTransport;
  readonly createdAt: number;
  /** Offers this session may still receive (docs/protocol.md, "Flow control: credit"). */
  credit = 0;
  transport: SessionTransport | undefined;
  closed = false;
  /** Last time a long-poll call was seen; a poll session silent too long is ended. */
  lastPollAt: number;
  /** Repeated warnings about what this session's runner sends are rate-limited per kind. */
  readonly warnings: WarnLimiter;
  /** Shown once in the 201 answer; cleared by the controller right after. */
  token: string | undefined;
  readonly #tokenHash: string;
  #wsTokenUsed = false;
  readonly #clock: Clock;
  readonly #timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  readonly #afterDurable: (deliver: () => void) => void;
  #outbox: ControllerMessage[] = [];
  #socket: SessionSocket | undefined;
  #waiter: (() => void) | undefined;

  constructor(options: EdgeSessionOptions, token: string = randomToken()) {
    this.id = randomToken().slice(0, 22);
    this.runnerId = options.runnerId;
    this.group = options.group;
    this.version = options.version;
    this.requestedTransport = options.requestedTransport;
    this.#clock = options.clock;
    this.#timer = options.timer;
    this.#afterDurable = options.afterDurable ?? ((deliver) => deliver());
    this.createdAt = options.clock.now();
    this.warnings = new WarnLimiter({ now: () => options.clock.now() });
    this.lastPollAt = this.createdAt;
    this.#tokenHash = sha256Hex(token);
    this.token = token;
  }

  get hasSocket(): boolean {
    return this.#socket !== undefined;
  }

  /** For long-poll calls: valid until a WebSocket consumed the token. */
  checkPollToken(presented: string | undefined): boolean {
    return !this.#wsTokenUsed && matchesHash(presented, this.#tokenHash);
  }

  /** For the WebSocket upgrade: single use, so a token seen in a proxy log cannot be replayed. */
  consumeWebSocketToken(presented: string | undefined): boolean {
    if (this.#wsTokenUsed || this.transport === "poll" || !matchesHash(presented, this.#tokenHash)) return false;
    this.#wsTokenUsed = true;
    return true;
  }

  attachSocket(socket: SessionSocket): void {
    this.transport = "websocket";
    this.#socket = socket;
    const pending = this.#outbox;
    this.#outbox = [];
    for (const message of pending) socket.send(JSON.stringify(message));
  }

  /**
   * Queues `message` behind the current batch's fsync: an offer or ack never outruns its write.
   * `stillValid`, asked once the write is durable, may drop it then (an offer whose lease another
   * replica took first).
   */
  send(message: ControllerMessage, stillValid?: () => boolean): void {
    if (this.closed) return;
    this.#afterDurable(() => {
      if (stillValid === undefined || stillValid()) this.#deliver(message);
    });
  }

  #deliver(message: ControllerMessage): void {
    if (this.closed) return;
    if (this.#socket !== undefined) {
      this.#socket.send(JSON.stringify(message));
      return;
    }
    this.#outbox.push(message);
    this.#waiter?.();
  }

  get receiving(): boolean {
    return this.#waiter !== undefined;
  }

  /** Long-poll receive: resolves with queued messages at once, or waits up to `waitMs`. */
  async receive(waitMs: number): Promise<ControllerMessage[]> {
    this.transport = "poll";
    this.lastPollAt = this.#clock.now();
    if (this.#outbox.length === 0 && waitMs > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const handle = this.#timer.setTimeout(() => done(), waitMs);
        const done = () => {
          this.#timer.clearTimeout(handle);
          this.#waiter = undefined;
          resolve();
        };
        this.#waiter = done;
      });
    }
    this.lastPollAt = this.#clock.now();
    // At most MAX_BATCH messages and about MAX_RECEIVE_CHARS of JSON (always at least one), so
    // an answer stays far under the runner's cap on a receive body.
    let count = 0;
    let chars = 0;
    while (count < this.#outbox.length && count < MAX_BATCH) {
      chars += JSON.stringify(this.#outbox[count]).length;
      if (count > 0 && chars > MAX_RECEIVE_CHARS) break;
      count++;
    }
    return this.#outbox.splice(0, count);
  }

  /** Ends the session: closes its socket with `code`, wakes a waiting receive. */
  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.#waiter?.();
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close(code, reason);
    } catch {
      // Already closing; nothing else to do.
    }
  }
}
