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
import { sleep } from "../../util/time.ts";
import { IDLE_RECEIVE_MIN_MS, PollPacing, type ReceiveAnswer } from "./poll-pacing.ts";

/**
 * The largest long-poll receive body the runner reads: a batch of messages each of which fits a
 * WebSocket frame (4 MiB). Read through a capped reader, so a hostile or broken controller
 * cannot make the runner hold more than this (a 256 MiB body used to cost the runner 514 MiB).
 */
export const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/**
 * The receive body, parsed, or an error naming the cap it passed. Any JSON value: what is not an
 * object with a `messages` list is refused whole as a malformed answer, naming what it is (a
 * `null` answer once ended the session with a TypeError's text).
 */
async function readReceiveBody(response: Response): Promise<unknown> {
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
  return body;
}

/** What a receive body is, when it is not `{"messages":[…]}`: said with its refusal. */
function describeAnswer(body: unknown): string {
  if (body === null) return "null";
  if (Array.isArray(body)) return "an array";
  if (typeof body !== "object") return `a ${typeof body}`;
  return 'an object without a "messages" list';
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

  const pacing = new PollPacing(options.pollWaitMs);
  /** Ends the receive loop's pacing wait; set while it waits. */
  let wake: AbortController | undefined;
  /**
   * The controller took a batch: what it answers (a heartbeat's ack, a liveness probe's) is
   * received now, not after a pacing wait of up to 5 s (liveness gives a probe 5 s).
   */
  const taken = () => {
    pacing.reset();
    wake?.abort();
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
          taken();
        }
      }
    } catch (error) {
      finish({ reason: `Long-poll send failed: ${errorMessage(error)}`, code: "connection_failed" });
    } finally {
      sending = false;
    }
  };

  // A long-poll answer refused whole proves nothing about the controller (a proxy may give it).
  const refuse = (detail: string) => (options.onMalformedAnswer ?? options.onMalformed)?.(detail);
  /** Hands an answer's messages on, in order; what it was, for the pacing. */
  const deliver = (body: unknown, tookMs: number): ReceiveAnswer => {
    const messages = (body as { messages?: unknown } | null)?.messages;
    if (body === null || typeof body !== "object" || Array.isArray(body) || !Array.isArray(messages)) {
      refuse(`a long-poll answer that is ${describeAnswer(body)} (expected {"messages":[…]})`);
      return { tookMs, messages: 0, malformed: true };
    }
    // Bounded work per answer, as per WebSocket frame.
    if (messages.length > MAX_FRAME_MESSAGES) {
      refuse(`a long-poll answer of ${messages.length} messages (at most ${MAX_FRAME_MESSAGES})`);
      return { tookMs, messages: 0, malformed: true };
    }
    // Only messages the runner took count for the pacing: `[{}]` or `[{"type":"x"}]` is no message.
    let taken = 0;
    for (const frame of messages) if (options.onFrame(frame) !== false) taken++;
    return { tookMs, messages: taken, malformed: false };
  };

  const receiveLoop = async () => {
    const url = `${base}${EDGE_PATHS.receive(options.sessionId)}?waitMs=${options.pollWaitMs}`;
    while (!isClosed) {
      let answer: ReceiveAnswer;
      try {
        const askedAt = Date.now();
        const response = await options.client.fetch(url, {
          headers,
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(options.pollWaitMs + 15_000)]),
        });
        if (!response.ok) return finish(fromStatus(response, "receive"));
        answer = deliver(await readReceiveBody(response), Date.now() - askedAt);
      } catch (error) {
        return finish({ reason: `Long-poll receive failed: ${errorMessage(error)}`, code: "connection_failed" });
      }
      // Messages, or an answer held for the poll's wait: the next receive leaves at once.
      const waitMs = pacing.next(answer);
      if (waitMs > 0) {
        const pausedAt = Date.now();
        wake = new AbortController();
        await sleep(waitMs, AbortSignal.any([stop.signal, wake.signal]));
        wake = undefined;
        // Woken by a send, the wait is cut to the floor, never below it: a runner sending every
        // few ms to something that answers at once with nothing polled at its send rate (198
        // receives in 2 s for a send every 10 ms).
        const floorLeftMs = pausedAt + IDLE_RECEIVE_MIN_MS - Date.now();
        if (floorLeftMs > 0) await sleep(floorLeftMs, stop.signal);
      }
    }
  };

  // The first receive proves the session and token before we call the transport open. It and its
  // body are bounded in time and end when the runner stops: a controller (or a proxy) that takes
  // the request and never answers held the runner in `connecting` for minutes, deaf to a stop.
  const { attachTimeoutMs } = options;
  const deadline = AbortSignal.timeout(attachTimeoutMs);
  const attach = AbortSignal.any([stop.signal, deadline, ...(options.signal ? [options.signal] : [])]);
  let first: unknown;
  try {
    const probe = await options.client.fetch(`${base}${EDGE_PATHS.receive(options.sessionId)}?waitMs=0`, { headers, signal: attach });
    if (!probe.ok) {
      await probe.body?.cancel();
      const result = fromStatus(probe, "receive");
      throw new EdgeError(result.code as ErrorCode, `Cannot attach long-poll transport: ${result.reason}`, result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs });
    }
    first = await readReceiveBody(probe);
  } catch (error) {
    const why = options.signal?.aborted ? "the runner is stopping" :
      deadline.aborted ? `the controller did not answer within ${attachTimeoutMs} ms` : errorMessage(error);
    stop.abort();
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("connection_failed", `Cannot attach long-poll transport: ${why}`);
  }
  // The attach's answer is an answer like any other: bounded and refused the same way (it used to
  // skip both: 5,000 messages were handed on one by one, a `null` dropped without a word).
  deliver(first, 0);
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
