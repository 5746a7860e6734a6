// The WebSocket message cap (MAX_WEBSOCKET_MESSAGE_BYTES, 5 MiB) where the runtime enforces it
// itself, so an oversized message is refused as its header arrives (1009), never buffered whole:
// Bun.serve's maxPayloadLength on the controller's server, and `ws` with maxPayload as the
// runner's client on Node (the runner's WebSocket transport, bundled for Node and run there
// against a hostile controller). Bun's and Deno's clients and Deno's server have no such option:
// there the message arrives whole (within the runtime's own bound) and the receiver closes with
// 4009 naming the cap (the browser API's close() takes no 1009) (docs/protocol.md, "WebSocket transport").

import { afterEach, expect, test } from "bun:test";
import { build } from "esbuild";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { CLOSE_MESSAGE_TOO_BIG, MAX_WEBSOCKET_MESSAGE_BYTES } from "../../src/protocol/limits.ts";
import { openWebSocketTransport } from "../../src/controller/edge/ws-transport.ts";
import { defaultControllerClient } from "../../src/platform/controller-client.ts";
import { FakeRunner, makeController } from "../reference-controller/helpers.ts";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { eventually, tempDir } from "../helpers/harness.ts";

const root = join(import.meta.dir, "..", "..");
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const OVERSIZED = MAX_WEBSOCKET_MESSAGE_BYTES + 1024 * 1024;
const deno = join(root, "node_modules/.bin/deno");

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

/** A hostile controller: the socket's first message is 6 MiB. */
function hostileController(): number {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response("no", { status: 400 })),
    websocket: { open: (ws) => void ws.send("[".padEnd(OVERSIZED, " ")), message() {} },
  });
  cleanups.push(() => server.stop(true));
  return server.port as number;
}

/** The runner's WebSocket transport, bundled and run on `runtime` against `port`: how its session ended. */
async function probeTransport(runtime: string[], port: number): Promise<{ reason: string; malformed: string[] }> {
  const dir = tempDir("ws-frame-cap-");
  cleanups.push(dir.remove);
  const entry = join(dir.dir, "probe.ts");
  writeFileSync(entry, `
    import { openWebSocketTransport } from ${JSON.stringify(join(root, "src/controller/edge/ws-transport.ts"))};
    import { defaultControllerClient } from ${JSON.stringify(join(root, "src/platform/controller-client.ts"))};
    const malformed: string[] = [];
    const transport = await openWebSocketTransport({
      baseUrl: process.argv[2], client: defaultControllerClient, sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000,
      onFrame: () => {},
      // Arrived whole and kept open (before the close on every runtime): said at once.
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
  const probe = Bun.spawn([...runtime, out, `http://127.0.0.1:${port}`], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(probe.stdout).text(), new Response(probe.stderr).text(), probe.exited]);
  expect({ code, stderr: stderr.slice(0, 2000) }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(stdout) as { reason: string; malformed: string[] };
}

test("the runner's WebSocket transport on Node refuses a controller's message over the cap as it arrives (ws maxPayload), never as a whole malformed frame", async () => {
  const result = await probeTransport(["node"], hostileController());
  expect(result.malformed).toEqual([]);
  // `ws` closes with 1009 towards the controller; locally the close has no frame of the peer (1006) and says why.
  expect(result.reason).toBe("WebSocket closed (1006: Max payload size exceeded)");
}, 60_000);

const TOO_BIG = `Message too big: ${OVERSIZED} characters, over the cap of ${MAX_WEBSOCKET_MESSAGE_BYTES} bytes`;

test("the runner's WebSocket transport on Bun (a client without a cap) closes (4009) on a message over the cap, naming it", async () => {
  const port = hostileController();
  const malformed: string[] = [];
  const transport = await openWebSocketTransport({
    baseUrl: `http://127.0.0.1:${port}`, client: defaultControllerClient, sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000,
    onFrame: () => {}, onMalformed: (why) => void malformed.push(why),
  });
  const open = new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), 5000));
  const closed = await Promise.race([transport.closed, open]);
  expect(malformed).toEqual([]);
  expect(closed === "still open" ? closed : closed.reason).toBe(`WebSocket closed (${CLOSE_MESSAGE_TOO_BIG}: ${TOO_BIG})`);
  if (closed === "still open") transport.close();
}, 60_000);

test.skipIf(!existsSync(deno))("the runner's WebSocket transport on Deno (a client without a cap) closes on a message over the cap, naming it", async () => {
  const result = await probeTransport([deno, "run", "-A", "--quiet"], hostileController());
  expect(result.malformed).toEqual([]);
  expect(result.reason).toBe(`WebSocket closed (${CLOSE_MESSAGE_TOO_BIG}: ${TOO_BIG})`);
}, 60_000);

test("the controller closes a runner's WebSocket (4009) on a message over the cap that arrived whole (Deno's server takes no cap)", () => {
  const h = makeController();
  cleanups.push(() => h.controller.close());
  const runner = FakeRunner.connect(h.controller, "r1");
  runner.raw("[".padEnd(OVERSIZED, " "));
  expect(runner.closedWith).toBe(CLOSE_MESSAGE_TOO_BIG);
  expect(runner.of("error")).toEqual([]);
  const binary = FakeRunner.connect(h.controller, "r2");
  h.controller.messages.handleBinaryFrame(binary.session, new Uint8Array(OVERSIZED));
  expect(binary.closedWith).toBe(CLOSE_MESSAGE_TOO_BIG);
  // Within the cap, a frame over MAX_FRAME_CHARS is still answered as malformed, the socket kept.
  const big = FakeRunner.connect(h.controller, "r3");
  big.raw("[".padEnd(MAX_WEBSOCKET_MESSAGE_BYTES, " "));
  expect(big.closedWith).toBeUndefined();
  expect(big.last("error").error.code).toBe("malformed_frame");
});
