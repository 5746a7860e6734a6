// The WebSocket client: Bun and Deno have a standard one built in; on Node the `ws` package
// stands in (Node 20 has none; it implements the same browser API, and takes the `ca` and
// `maxPayload` options that Node's own client, where there is one, does not). It is imported on Node only: on Bun it would load
// node:http, https, net, tls and zlib at every start (docs/performance.md, start-up).

import { runtime } from "./runtime.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../protocol/limits.ts";

/** `agent`: a node:http(s) Agent, which opens the connection (a proxy's CONNECT tunnel: controller-client.ts). */
type WsOptions = { ca?: string; agent?: unknown; headers?: Record<string, string>; maxPayload?: number };

/** The `ws` package's WebSocket on Node, else undefined. */
export const WsWebSocket: (new (url: string, options?: WsOptions) => WebSocket) | undefined =
  runtime === "node" ? ((await import("ws")).default as unknown as new (url: string, options?: WsOptions) => WebSocket) : undefined;

export const WebSocketImpl: typeof WebSocket =
  (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? (WsWebSocket as unknown as typeof WebSocket);

/**
 * A client WebSocket. On Node it is `ws` (also where Node 22 has a global WebSocket, which takes
 * no cap) with maxPayload: a message over the cap is refused as its header arrives, closing with
 * 1009, never buffered. Bun's and Deno's clients have no such option (docs/protocol.md,
 * "WebSocket transport"): the caller checks each message once it has arrived.
 */
export function openWebSocket(url: string, options: { ca?: string; agent?: unknown } = {}): WebSocket {
  if (WsWebSocket !== undefined) return new WsWebSocket(url, { ...options, maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES });
  return new WebSocketImpl(url);
}

/**
 * A client WebSocket that sends request headers, which the browser API cannot: `ws` on Node (which
 * also refuses a message over `maxPayload` itself, closing with 1009), an options object with
 * `headers` on Bun and Deno (whose clients take no such cap: the caller checks each message).
 */
export function openWebSocketWithHeaders(url: string, options: { headers: Record<string, string>; maxPayload: number }): WebSocket {
  if (WsWebSocket !== undefined) return new WsWebSocket(url, { headers: options.headers, maxPayload: options.maxPayload });
  const Ws = WebSocketImpl as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
  return new Ws(url, { headers: options.headers });
}

/**
 * Bytes queued for sending on a server-side socket (Hono's `ws.raw`): Bun's ServerWebSocket says it
 * through getBufferedAmount(), `ws` (Node) and Deno's WebSocket through bufferedAmount.
 */
export function serverSocketBufferedAmount(raw: unknown): number {
  const socket = raw as { getBufferedAmount?: () => number; bufferedAmount?: number } | undefined;
  if (typeof socket?.getBufferedAmount === "function") return socket.getBufferedAmount();
  return typeof socket?.bufferedAmount === "number" ? socket.bufferedAmount : 0;
}

/**
 * Stops reading a socket, so that its peer meets TCP backpressure instead of this process
 * buffering: Bun's ServerWebSocket and WebSocket client and `ws` (Node) have pause(); Deno's
 * WebSocket has none, and this answers false.
 */
export function pauseReading(socket: unknown): boolean {
  const s = socket as { pause?: () => unknown; resume?: () => unknown } | undefined;
  if (typeof s?.pause !== "function" || typeof s.resume !== "function") return false;
  s.pause();
  return true;
}

/** Reads a socket paused by pauseReading() again. */
export function resumeReading(socket: unknown): void {
  const s = socket as { resume?: () => unknown } | undefined;
  if (typeof s?.resume === "function") s.resume();
}

/**
 * Sends a frame on a server-side socket (Hono's WSContext). Bun's ServerWebSocket answers how it
 * went, which Hono drops: 0 for a non-empty frame means dropped (past its backpressureLimit), and
 * is answered "dropped" here; the others queue whatever they are given.
 */
export function sendOnServerSocket(ws: { send(frame: string): void; raw?: unknown }, frame: string | ArrayBuffer | ArrayBufferView | Blob, size: number): "sent" | "dropped" {
  const raw = ws.raw as { getBufferedAmount?: unknown; send?: (frame: unknown) => number } | undefined;
  if (typeof raw?.getBufferedAmount === "function" && typeof raw.send === "function") {
    return raw.send(frame) === 0 && size > 0 ? "dropped" : "sent";
  }
  ws.send(frame as string);
  return "sent";
}
