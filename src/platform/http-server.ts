// Serving HTTP (and WebSocket upgrades) on Bun, Deno and Node behind one function.
// Hono apps are runtime-neutral; only binding a port and upgrading a socket differ.

import type { Hono } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import { runtime } from "./runtime.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../protocol/limits.ts";
import { EdgeError, errorMessage } from "../errors.ts";

export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port; read the chosen one from `HttpServer.port`. */
  port: number;
  /** PEM certificate chain and private key: serve HTTPS (and WSS) instead of plain HTTP. */
  tls?: { cert: string; key: string };
  /** The flag that sets this address (`--status-port`), named when it cannot be bound. */
  flag?: string;
  /**
   * The server's own cap on a request body, under every handler's (which read through a capped
   * reader anyway): Bun refuses a larger body with 413 before any handler runs. Default 40 MiB
   * (a plugin bundle upload of up to 32 MiB fits).
   */
  maxBodyBytes?: number;
}

/** The largest WebSocket message the server takes (protocol frames are at most 4 MiB), defined with the protocol's limits. */
export { MAX_WEBSOCKET_MESSAGE_BYTES };
const DEFAULT_MAX_BODY_BYTES = 40 * 1024 * 1024;

export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

// `hono/bun` and `hono/deno` read their runtime's global when loaded, so each is imported only
// on its own runtime (esbuild keeps dynamic imports lazy in the Node/Deno bundle). The Node
// server (@hono/node-server, ws, node:http/https) is as heavy as the rest of a runner's start
// on Bun (~12 MiB, docs/performance.md), so it too is loaded only where it serves.
const bun = runtime === "bun" ? await import("hono/bun") : undefined;
const deno = runtime === "deno" ? await import("./deno-websocket.ts") : undefined;
const node = runtime === "node" ? await import("./node-server.ts") : undefined;

/** Upgrades a request to a WebSocket on whichever runtime serves it (use as Hono middleware). */
export const upgradeWebSocket: UpgradeWebSocket<unknown> = (bun?.upgradeWebSocket ??
  deno?.denoUpgradeWebSocket ??
  node?.nodeUpgradeWebSocket) as UpgradeWebSocket<unknown>;

// deno-lint-ignore no-explicit-any
type AnyHono = Hono<any, any, any>;

export async function serveHttp(app: AnyHono, options: ServeOptions): Promise<HttpServer> {
  try {
    if (runtime === "bun") return await serveBun(app, options);
    if (runtime === "deno") return await serveDeno(app, options);
    return await (node as typeof import("./node-server.ts")).serveNode(app, options, { maxWebSocketMessageBytes: MAX_WEBSOCKET_MESSAGE_BYTES, describe });
  } catch (error) {
    // Each runtime words "address in use" differently; say it one way, naming the address.
    const inUse = (error as { code?: string }).code === "EADDRINUSE" || /in use/i.test(errorMessage(error));
    const detail = inUse ? "the address is in use" : errorMessage(error);
    const fix = options.flag === undefined ? "" : ` (${inUse ? "choose another port with" : "see"} ${options.flag})`;
    throw new EdgeError("listen_failed", `Cannot listen on ${options.hostname}:${options.port}: ${detail}${fix}`, { cause: error });
  }
}

function describe(options: ServeOptions, port: number, close: () => Promise<void>): HttpServer {
  const { hostname } = options;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return { hostname, port, url: `${options.tls === undefined ? "http" : "https"}://${host}:${port}`, close };
}

/**
 * Bun's `drain` (a socket's send queue emptied after send() reported backpressure), which Hono does
 * not pass on: handed to the upgrade's events as `onDrain` when they have one (DrainableEvents).
 */
function drained(ws: { data?: { events?: DrainableEvents } }): void {
  ws.data?.events?.onDrain?.();
}

/** WebSocket events that also hear when the socket's send queue drained (on Bun; elsewhere never). */
export interface DrainableEvents {
  onDrain?: () => void;
}

async function serveBun(app: AnyHono, options: ServeOptions): Promise<HttpServer> {
  const Bun = (globalThis as unknown as { Bun: { serve(o: unknown): { port: number; stop(force?: boolean): Promise<void> | void } } }).Bun;
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    fetch: app.fetch,
    websocket: bun === undefined ? undefined : { ...bun.websocket, maxPayloadLength: MAX_WEBSOCKET_MESSAGE_BYTES, drain: drained },
    maxRequestBodySize: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    // Long-poll requests hold for up to 30 s; Bun's default idle timeout is 10 s.
    idleTimeout: 60,
  });
  return describe(options, server.port, async () => {
    await server.stop(true);
  });
}

async function serveDeno(app: AnyHono, options: ServeOptions): Promise<HttpServer> {
  const Deno = (globalThis as unknown as {
    Deno: { serve(o: unknown, h: unknown): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> } };
  }).Deno;
  let resolvePort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => (resolvePort = resolve));
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, ...(options.tls ?? {}), onListen: (addr: { port: number }) => resolvePort(addr.port) },
    app.fetch,
  );
  const port = await listening;
  return describe(options, port, () => server.shutdown());
}
