// The WebSocket transport: one JSON message per text frame. The single-use session token is
// in the URL because browsers' (and Bun's/Deno's) WebSocket clients cannot set headers.

import { EDGE_PATHS, type RunnerMessage } from "../../protocol/edge-v1.ts";
import type { OpenTransportOptions, Transport, TransportClosed } from "./transport.ts";
import { packFrames } from "../../protocol/frames.ts";
import { foldCredits } from "./credit-fold.ts";
import { CLOSE_MESSAGE_TOO_BIG, MAX_BATCH_MESSAGES, MAX_FRAME_CHARS, messageTooBig } from "../../protocol/limits.ts";
import { EdgeError } from "../../errors.ts";
import { codeForClose } from "../failure.ts";
import { publicUrl, scrubUrls } from "../../config/url.ts";


export function openWebSocketTransport(options: OpenTransportOptions): Promise<Transport> {
  const url = new URL(options.baseUrl.replace(/^http/, "ws") + EDGE_PATHS.websocket(options.sessionId));
  url.searchParams.set("token", options.token);
  const cannotOpen = (why: string) => new EdgeError("connection_failed", `Cannot open WebSocket to "${publicUrl(options.baseUrl)}"${via}: ${why}`);
  // Which proxy it went through, if any (never its credentials), said with a failure to open.
  const via = options.client.via?.(url.toString()) ?? "";
  if (options.signal?.aborted) return Promise.reject(cannotOpen("the runner is stopping"));
  const socket = options.client.openWebSocket(url.toString());

  return new Promise((resolve, reject) => {
    let opened = false;
    let gaveUp = false;
    // A handshake the controller (or a proxy) never answers is given up after the timeout, and at
    // once when the runner stops: it held the runner in `connecting` for minutes, deaf to a stop.
    const { attachTimeoutMs } = options;
    const giveUp = (why: string) => {
      gaveUp = true;
      settle();
      reject(cannotOpen(why));
      try {
        socket.close();
      } catch {
        // Already closing.
      }
    };
    const onStop = () => giveUp("the runner is stopping");
    const timer = setTimeout(() => giveUp(`the controller did not answer the handshake within ${attachTimeoutMs} ms`), attachTimeoutMs);
    /** The handshake is over (opened, failed or given up): its timer and stop listener go. */
    const settle = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onStop);
    };
    options.signal?.addEventListener("abort", onStop, { once: true });
    /** Why this side closed the socket (a message over the cap), said with the close. */
    let refused: string | undefined;
    let pending: RunnerMessage[] = [];
    const flush = () => {
      const batch = pending;
      pending = [];
      if (batch.length === 0 || socket.readyState !== 1) return;
      try {
        for (const frame of packFrames(foldCredits(batch))) socket.send(frame);
      } catch {
        // Closing under us: the outbox replays unacknowledged messages on the next session.
      }
    };
    let resolveClosed: (closed: TransportClosed) => void = () => {};
    const closed = new Promise<TransportClosed>((r) => (resolveClosed = r));

    socket.onopen = () => {
      settle();
      // Opened as it was given up (a close racing the handshake): it is not used.
      if (gaveUp) return socket.close();
      opened = true;
      resolve({
        kind: "websocket",
        closed,
        send(messages: RunnerMessage[]) {
          if (socket.readyState !== 1) return;
          // Everything sent in one turn of the event loop leaves as one frame (a JSON array when
          // more than one). Not a microtask: each message of a plugin worker arrives in a task of
          // its own, and a job's step, log, result and credit come from several of them.
          if (pending.length === 0) setImmediate(flush);
          pending.push(...messages);
        },
        close() {
          if (socket.readyState <= 1) socket.close(1000, "runner closing");
        },
      });
    };
    socket.onmessage = (event: MessageEvent) => {
      // Where the runtime takes no cap (Bun, Deno) an oversized message arrives whole: close, as `ws` does on Node (1009).
      const tooBig = messageTooBig(event.data);
      if (tooBig !== undefined) {
        refused = tooBig;
        if (socket.readyState <= 1) socket.close(CLOSE_MESSAGE_TOO_BIG, tooBig);
        return;
      }
      if (typeof event.data !== "string") return options.onMalformed?.("a binary frame (the protocol sends JSON text)");
      const data = event.data;
      // Bounded work per frame: larger than any frame a controller sends, or more messages than a
      // batch may hold, is malformed as a whole (never parsed or walked).
      if (data.length > MAX_FRAME_CHARS) return options.onMalformed?.(`a frame of ${data.length} characters (at most ${MAX_FRAME_CHARS})`);
      if (data.charCodeAt(0) !== 91 /* "[" */) return options.onFrame(data);
      let batch: unknown;
      try {
        batch = JSON.parse(data);
      } catch {
        return options.onFrame(data); // reported as malformed by the parser
      }
      if (!Array.isArray(batch) || batch.length === 0) return options.onFrame(batch);
      if (batch.length > MAX_BATCH_MESSAGES) return options.onMalformed?.(`a batch of ${batch.length} messages (at most ${MAX_BATCH_MESSAGES})`);
      for (const message of batch) options.onFrame(message);
    };
    // Why an open socket failed (on Node, `ws` refusing a message over its cap: "Max payload size
    // exceeded"), said with the close that follows, which then carries no reason of its own (1006).
    let failure: string | undefined;
    socket.onerror = (event: Event) => {
      const message = (event as { message?: string }).message ?? "WebSocket error";
      if (!opened) {
        settle();
        reject(cannotOpen(scrubUrls(message)));
      } else failure = message.slice(0, 200);
    };
    socket.onclose = (event: CloseEvent) => {
      const why = refused ?? (event.reason || failure);
      const reason = `WebSocket closed (${event.code}${why ? `: ${why}` : ""})`;
      if (!opened) {
        settle();
        reject(new EdgeError(codeForClose(event.code), `Cannot open WebSocket to "${publicUrl(options.baseUrl)}"${via}: ${reason}`));
      }
      resolveClosed({ reason, code: codeForClose(event.code) });
    };
  });
}
