// The WebSocket client: Bun and Deno have a standard one built in; Node 20 does not, so the
// `ws` package stands in (it implements the same browser API, and takes the `ca` option that
// controller-client.ts needs on Node). It is imported on Node only: on Bun it would load
// node:http, https, net, tls and zlib at every start (docs/performance.md, start-up).

import { runtime } from "./runtime.ts";

/** The `ws` package's WebSocket on Node, else undefined. */
export const WsWebSocket: (new (url: string, options?: { ca?: string }) => WebSocket) | undefined =
  runtime === "node" ? ((await import("ws")).default as unknown as new (url: string, options?: { ca?: string }) => WebSocket) : undefined;

export const WebSocketImpl: typeof WebSocket =
  (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? (WsWebSocket as unknown as typeof WebSocket);

export function openWebSocket(url: string): WebSocket {
  return new WebSocketImpl(url);
}
