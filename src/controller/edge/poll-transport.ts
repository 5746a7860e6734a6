// The HTTP long-poll transport, for networks whose proxies block WebSockets: one receive
// request held open by the controller, and sends as ordered batches. Same messages, same meaning.

import { EdgeError, errorMessage, type ErrorCode } from "../../errors.ts";
import { codeForStatus } from "../failure.ts";
import { EDGE_PATHS, type RunnerMessage } from "../../protocol/edge-v1.ts";
import { parseRetryAfter } from "../../util/backoff.ts";
import type { OpenTransportOptions, Transport, TransportClosed } from "./transport.ts";
import { packFrames } from "../../protocol/frames.ts";
import { MAX_BATCH_MESSAGES as MAX_FRAME_MESSAGES } from "../../protocol/limits.ts";
import { readLimited } from "../../util/read-limited.ts";

/**
 * The largest long-poll receive body the runner reads: a batch of messages each of which fits a
 * WebSocket frame (4 MiB). Read through a capped reader, so a hostile or broken controller
 * cannot make the runner hold more than this (a 256 MiB body used to cost the runner 514 MiB).
 */
export const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/**
 * The receive body, parsed, or an error naming the cap it passed. Any JSON value: what is not an
 * object with a `messages` list goes to the parser as one frame, which refuses it naming why (a
 * `null` answer once ended the session with a TypeError's text).
 */
async function readReceiveBody(response: Response): Promise<{ messages?: unknown } | undefined> {
  const bytes = await readLimited(response.body, {
    maxBytes: MAX_RECEIVE_BYTES,
    tooLarge: (received) => {
      throw new Error(`the controller's long-poll answer is larger than ${MAX_RECEIVE_BYTES} bytes (${received} read)`);
    },
  });
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error("the controller's long-poll answer is not valid JSON");
  }
  return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as { messages?: unknown }) : undefined;
}

export async function openPollTransport(options: OpenTransportOptions): Promise<Transport> {
  const base = options.baseUrl;
  const headers = { authorization: `Bearer ${options.token}`, "content-type": "application/json" };
  const stop = new AbortController();
  let resolveClosed: (closed: TransportClosed) => void = () => {};
  const closed = new Promise<TransportClosed>((r) => (resolveClosed = r));
  let isClosed = false;
  const finish = (result: TransportClosed) => {
    if (isClosed) return;
    isClosed = true;
    stop.abort();
    resolveClosed(result);
  };

  const fromStatus = (response: Response, what: string): TransportClosed => {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    const result: TransportClosed = {
      reason: `Long-poll ${what} answered ${response.status}`,
      code: codeForStatus(response.status),
    };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    return result;
  };

  // Sends go one batch at a time so the controller sees them in order.
  let queue: RunnerMessage[] = [];
  let sending = false;
  const pump = async () => {
    if (sending) return;
    sending = true;
    try {
      while (queue.length > 0 && !isClosed) {
        const batch = queue;
        queue = [];
        // Same size rule as WebSocket frames: each POST stays far under the controller's limit.
        for (const frame of packFrames(batch)) {
          const response = await options.client.fetch(base + EDGE_PATHS.send(options.sessionId), {
            method: "POST",
            headers,
            body: `{"messages":${frame.startsWith("[") ? frame : `[${frame}]`}}`,
            signal: stop.signal,
          });
          await response.body?.cancel();
          if (!response.ok) return finish(fromStatus(response, "send"));
        }
      }
    } catch (error) {
      finish({ reason: `Long-poll send failed: ${errorMessage(error)}`, code: "connection_failed" });
    } finally {
      sending = false;
    }
  };

  const receiveLoop = async () => {
    const url = `${base}${EDGE_PATHS.receive(options.sessionId)}?waitMs=${options.pollWaitMs}`;
    while (!isClosed) {
      try {
        const response = await options.client.fetch(url, {
          headers,
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(options.pollWaitMs + 15_000)]),
        });
        if (!response.ok) return finish(fromStatus(response, "receive"));
        const body = await readReceiveBody(response);
        if (!Array.isArray(body?.messages)) {
          options.onFrame(body ?? null);
          continue;
        }
        // Bounded work per answer, as per WebSocket frame.
        if (body.messages.length > MAX_FRAME_MESSAGES) {
          options.onMalformed?.(`a long-poll answer of ${body.messages.length} messages (at most ${MAX_FRAME_MESSAGES})`);
          continue;
        }
        for (const frame of body.messages) options.onFrame(frame);
      } catch (error) {
        return finish({ reason: `Long-poll receive failed: ${errorMessage(error)}`, code: "connection_failed" });
      }
    }
  };

  // The first receive proves the session and token before we call the transport open.
  const probe = await options.client.fetch(`${base}${EDGE_PATHS.receive(options.sessionId)}?waitMs=0`, { headers, signal: stop.signal });
  if (!probe.ok) {
    await probe.body?.cancel();
    const result = fromStatus(probe, "receive");
    throw new EdgeError(result.code as ErrorCode, `Cannot attach long-poll transport: ${result.reason}`, result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs });
  }
  const first = await readReceiveBody(probe);
  for (const frame of Array.isArray(first?.messages) ? first.messages : []) options.onFrame(frame);
  void receiveLoop();

  return {
    kind: "poll",
    closed,
    send(messages) {
      if (isClosed) return;
      queue.push(...messages);
      void pump();
    },
    close() {
      if (isClosed) return;
      void options.client.fetch(base + EDGE_PATHS.session(options.sessionId), { method: "DELETE", headers }).then(
        (r) => r.body?.cancel(),
        () => {},
      );
      finish({ reason: "closed by runner", code: "connection_failed" });
    },
  };
}
