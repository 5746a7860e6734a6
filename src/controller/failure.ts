// How a controller connection treats a failure, decided by the error's code in this one table
// (as the Buildkite agent decides by status in codeUnrecoverable). Transports and the session
// call turn what they see (an HTTP status, a WebSocket close code) into a code with the two
// functions below; nothing else looks at raw statuses to decide.

import { EdgeError, errorMessage, type ErrorCode } from "../errors.ts";

/**
 * `retry`: back off (full jitter, at least Retry-After) and try again.
 * `unauthorized`: show the state and wait the longest backoff: another try in a moment with the
 * same key will not succeed, but a key fixed on the controller side must be picked up.
 */
export type FailureHandling = "retry" | "unauthorized";

const HANDLING: Partial<Record<ErrorCode, FailureHandling>> = {
  unauthorized: "unauthorized",
  forbidden: "unauthorized",
  // Deliberately left out, so retried with backoff: connection_failed (network errors, 5xx, 429,
  // a controller starting or stopping), protocol_error (a malformed answer; a controller being
  // upgraded gives one for a moment), and a 426 protocol-version refusal (the runner cannot fix
  // it, but the controller may be rolled back; the state and the log say why). No failure stops
  // the runner: it keeps its jobs' results until a controller takes them.
};

export function failureHandling(code: string): FailureHandling {
  return HANDLING[code as ErrorCode] ?? "retry";
}

/** The code for a controller's HTTP answer that is not a success. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  return "connection_failed";
}

/** The code for a WebSocket close: 4401/4403 are the controller's 401/403 (docs/protocol.md). */
export function codeForClose(closeCode: number): ErrorCode {
  if (closeCode === 4401) return "unauthorized";
  if (closeCode === 4403) return "forbidden";
  return "connection_failed";
}

/** Why a session attempt ended, from anything thrown on the way: an EdgeError keeps its code. */
export function failureOf(error: unknown): { code: string; reason: string; retryAfterMs?: number } {
  const code = error instanceof EdgeError ? error.code : "connection_failed";
  const retryAfterMs = error instanceof EdgeError ? error.retryAfterMs : undefined;
  return retryAfterMs === undefined ? { code, reason: errorMessage(error) } : { code, reason: errorMessage(error), retryAfterMs };
}
