// The WebSocket client: Bun and Deno have a standard one built in; Node 20 does not, so the
// `ws` package stands in (it implements the same browser API).

import WsWebSocket from "ws";

export const WebSocketImpl: typeof WebSocket =
  (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? (WsWebSocket as unknown as typeof WebSocket);

export function openWebSocket(url: string): WebSocket {
  return new WebSocketImpl(url);
}
