// Serving HTTP and WebSocket upgrades on Node: @hono/node-server with the `ws` package. Loaded
// only on Node (src/platform/http-server.ts), as it costs a Bun start ~12 MiB.

import type { Hono } from "hono";
import { serve as nodeServe, upgradeWebSocket } from "@hono/node-server";
import { WebSocketServer } from "ws";
import type { AddressInfo } from "node:net";
import { createServer as createHttpsServer } from "node:https";
import type { HttpServer, ServeOptions } from "./http-server.ts";

export const nodeUpgradeWebSocket = upgradeWebSocket;

// deno-lint-ignore no-explicit-any
type AnyHono = Hono<any, any, any>;

/** `describe` and the WebSocket message cap come from http-server.ts (no import back: no cycle). */
export function serveNode(
  app: AnyHono,
  options: ServeOptions,
  shared: { maxWebSocketMessageBytes: number; describe: (options: ServeOptions, port: number, close: () => Promise<void>) => HttpServer },
): Promise<HttpServer> {
  const { describe } = shared;
  const wss = new WebSocketServer({ noServer: true, maxPayload: shared.maxWebSocketMessageBytes });
  return new Promise((resolve, reject) => {
    const tls = options.tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } };
    const server = nodeServe(
      { fetch: app.fetch, hostname: options.hostname, port: options.port, websocket: { server: wss as never }, ...tls },
      (info: AddressInfo) => {
        resolve(
          describe(options, info.port, () =>
            new Promise<void>((done) => {
              wss.close();
              for (const client of wss.clients) client.terminate();
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
              server.close(() => done());
            }),
          ),
        );
      },
    );
    server.once("error", reject);
  });
}
