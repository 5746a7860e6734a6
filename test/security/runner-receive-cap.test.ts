// Issue 8 item 4: the runner's long-poll receive is read through a capped reader. A hostile
// controller's 256 MiB receive body used to cost the runner 514 MiB; now the read stops past
// MAX_RECEIVE_BYTES (16 MiB) and the transport closes with a reason naming the cap.

import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { openPollTransport, MAX_RECEIVE_BYTES } from "../../src/controller/edge/poll-transport.ts";
import { defaultControllerClient } from "../../src/platform/controller-client.ts";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

test("openPollTransport() stops reading a receive body past MAX_RECEIVE_BYTES and closes the session", async () => {
  let served = 0;
  const app = new Hono();
  app.get("/edge/v1/sessions/:id/receive", (c) => {
    if (c.req.query("waitMs") === "0") return c.json({ messages: [] });
    // 256 MiB, streamed: never complete JSON.
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"messages":['));
        if (sent >= 256) return controller.close();
        sent++;
        served = sent;
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  const frames: unknown[] = [];
  const transport = await openPollTransport({
    baseUrl: server.url, client: defaultControllerClient, sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000,
    onFrame: (frame) => frames.push(frame),
  });
  const closed = await transport.closed;
  expect(closed.reason).toContain(`larger than ${MAX_RECEIVE_BYTES} bytes`);
  expect(frames).toHaveLength(0);
  // The server was stopped well before its 256 MiB (a little read-ahead past the cap at most).
  expect(served).toBeLessThan(64);
});
