// The WebSocket message cap (MAX_WEBSOCKET_MESSAGE_BYTES, 5 MiB) where the runtime enforces it
// itself, so an oversized message is refused as its header arrives (1009), never buffered whole:
// Bun.serve's maxPayloadLength on the controller's server, and `ws` with maxPayload as the
// runner's client on Node (the runner's WebSocket transport, bundled for Node and run there
// against a hostile controller). Bun's and Deno's clients and Deno's server have no such option:
// there the frame arrives and the transport refuses it as malformed (docs/protocol.md, "WebSocket transport").

import { afterEach, expect, test } from "bun:test";
import { build } from "esbuild";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../../src/protocol/limits.ts";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { eventually, tempDir } from "../helpers/harness.ts";

const root = join(import.meta.dir, "..", "..");
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const OVERSIZED = MAX_WEBSOCKET_MESSAGE_BYTES + 1024 * 1024;

test("serveHttp() on Bun refuses a WebSocket message over MAX_WEBSOCKET_MESSAGE_BYTES with 1009 before any handler sees it", async () => {
  const seen: number[] = [];
  const app = new Hono();
  app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event) => void seen.push(String(event.data).length) })));
  const server: HttpServer = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  cleanups.push(() => server.close());
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/ws`);
  let closed: number | undefined;
  ws.onclose = (event) => (closed = event.code);
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  ws.send("a".repeat(4 * 1024 * 1024));
  await eventually(() => (seen.length === 1 ? true : undefined), 10_000, "the 4 MiB frame");
  ws.send("b".repeat(OVERSIZED));
  expect(await eventually(() => closed, 10_000, "the close")).toBe(1009);
  expect(seen).toEqual([4 * 1024 * 1024]);
});

test("the runner's WebSocket transport on Node refuses a controller's message over the cap as it arrives (ws maxPayload), never as a whole malformed frame", async () => {
  // A hostile controller: the socket's first message is 6 MiB.
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response("no", { status: 400 })),
    websocket: { open: (ws) => void ws.send("[".padEnd(OVERSIZED, " ")), message() {} },
  });
  cleanups.push(() => server.stop(true));
  const dir = tempDir("ws-frame-cap-");
  cleanups.push(dir.remove);
  const entry = join(dir.dir, "probe.ts");
  writeFileSync(entry, `
    import { openWebSocketTransport } from ${JSON.stringify(join(root, "src/controller/edge/ws-transport.ts"))};
    import { defaultControllerClient } from ${JSON.stringify(join(root, "src/platform/controller-client.ts"))};
    const malformed: string[] = [];
    const transport = await openWebSocketTransport({
      baseUrl: process.argv[2], client: defaultControllerClient, sessionId: "s1", token: "t", pollWaitMs: 1000,
      onFrame: () => {},
      // Arrived whole: said at once (the transport itself stays open).
      onMalformed: (why) => { console.log(JSON.stringify({ reason: "", malformed: [why] })); process.exit(0); },
    });
    const closed = await transport.closed;
    console.log(JSON.stringify({ reason: closed.reason, malformed }));
    process.exit(0);
  `);
  const out = join(dir.dir, "probe.mjs");
  await build({
    entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "silent",
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  });
  const probe = Bun.spawn(["node", out, `http://127.0.0.1:${server.port}`], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(probe.stdout).text(), new Response(probe.stderr).text(), probe.exited]);
  expect({ code, stderr: stderr.slice(0, 2000) }).toEqual({ code: 0, stderr: "" });
  const result = JSON.parse(stdout) as { reason: string; malformed: string[] };
  expect(result.malformed).toEqual([]);
  // `ws` closes with 1009 towards the controller; locally the close has no frame of the peer (1006) and says why.
  expect(result.reason).toBe("WebSocket closed (1006: Max payload size exceeded)");
}, 60_000);
