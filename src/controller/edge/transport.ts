// A transport carries edge messages for one session; WebSocket and long-poll implement it the
// same way, so nothing above this layer knows which one is in use.

import type { RunnerMessage } from "../../protocol/edge-v1.ts";
import type { ControllerClient } from "../../platform/controller-client.ts";

export type TransportKind = "websocket" | "poll";

export interface TransportClosed {
  reason: string;
  /** An error code (codeForStatus, codeForClose); the connection's table decides by it (src/controller/failure.ts). */
  code: string;
  retryAfterMs?: number;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Queues messages in order; a transport that closes drops what it could not send (the outbox resends). */
  send(messages: RunnerMessage[]): void;
  readonly closed: Promise<TransportClosed>;
  close(): void;
}

export interface OpenTransportOptions {
  baseUrl: string;
  client: ControllerClient;
  sessionId: string;
  token: string;
  pollWaitMs: number;
  /** The runner stopping: an attach still waiting for the controller is given up at once. */
  signal?: AbortSignal;
  /** An attach the controller has not answered by then is given up. Given, not defaulted here: the one default is the connection's (EdgeConnectionOptions.attachTimeoutMs). */
  attachTimeoutMs: number;
  /** Called with each raw frame (string or parsed JSON value) in arrival order; answers `false` for a frame not taken (malformed, or of an unknown type): no message for the long-poll's pacing. */
  onFrame(frame: unknown): unknown;
  /** Called for a frame refused whole (binary, oversized, a batch too long), with why. */
  onMalformed?(detail: string): void;
  /**
   * Called for a long-poll answer refused whole (not `{"messages":[…]}`, or a batch too long).
   * Unlike a frame on an open socket it proves nothing about the controller (a proxy or a broken
   * controller may give one at once, again and again); `onMalformed` where not given.
   */
  onMalformedAnswer?(detail: string): void;
}
