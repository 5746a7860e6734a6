// Deno's WebSocket upgrade for Hono. `hono/deno` cannot be imported on other runtimes (its
// index touches the `Deno` global at load), so this is its ~20 lines, loaded everywhere.

import { WSContext, defineWebSocketHelper, type UpgradeWebSocket } from "hono/ws";

interface DenoUpgrade {
  upgradeWebSocket(request: Request): { response: Response; socket: WebSocket };
}

export const denoUpgradeWebSocket: UpgradeWebSocket<unknown> = defineWebSocketHelper((c, events) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return;
  const deno = (globalThis as unknown as { Deno: DenoUpgrade }).Deno;
  const { response, socket } = deno.upgradeWebSocket(c.req.raw);
  const ws = new WSContext({
    close: (code, reason) => socket.close(code, reason),
    get protocol() { return socket.protocol; },
    raw: socket,
    get readyState() { return socket.readyState as 0 | 1 | 2 | 3; },
    url: socket.url ? new URL(socket.url) : null,
    send: (source) => socket.send(source as string),
  });
  socket.onopen = (evt) => events.onOpen?.(evt, ws);
  socket.onmessage = (evt) => events.onMessage?.(evt, ws);
  socket.onclose = (evt) => events.onClose?.(evt, ws);
  socket.onerror = (evt) => events.onError?.(evt, ws);
  return response;
});
