// The runner's WebSocket transport sends what one turn of the event loop produces as one frame.
// Each message from a plugin worker arrives in a task of its own, so a flush per microtask sent
// one frame per worker message (issue 15: 4 frames per no-op job, and an ack for each).
import { afterEach, expect, test } from "bun:test";
import { foldCredits } from "../../src/controller/edge/credit-fold.ts";
import { openWebSocketTransport } from "../../src/controller/edge/ws-transport.ts";
import type { Transport } from "../../src/controller/edge/transport.ts";
import { defaultControllerClient } from "../../src/platform/controller-client.ts";
import { message, type RunnerMessage } from "../../src/protocol/edge-v1.ts";

let server: ReturnType<typeof frameServer> | undefined;
let transport: Transport | undefined;
afterEach(() => {
  transport?.close();
  void server?.stop(true);
});

/** A WebSocket server on a free loopback port that keeps every text frame it receives. */
function frameServer(frames: string[]) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req, srv) => (srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 })),
    websocket: { message: (_ws, data) => void frames.push(String(data)) },
  });
}

test("the WebSocket transport sends messages from separate tasks of one loop turn as one batch frame", async () => {
  const frames: string[] = [];
  server = frameServer(frames);
  transport = await openWebSocketTransport({
    baseUrl: `http://127.0.0.1:${server.port}`,
    client: defaultControllerClient,
    sessionId: "s1",
    token: "t",
    pollWaitMs: 1000, attachTimeoutMs: 30_000,
    onFrame: () => undefined,
  });
  const open = transport;
  // Three tasks queued at once, as three messages of a plugin worker are: each sends one message.
  const channel = new MessageChannel();
  const sent: RunnerMessage[] = [1, 2, 3].map((seq) => message({ type: "log", jobId: "j", attempt: 1, seq, lines: [] }));
  let received = 0;
  channel.port2.onmessage = (event: MessageEvent<number>) => {
    open.send([sent[event.data] as RunnerMessage]);
    if (++received === sent.length) channel.port2.close();
  };
  for (let i = 0; i < sent.length; i++) channel.port1.postMessage(i);
  const deadline = Date.now() + 5000;
  while (frames.flatMap((f) => [JSON.parse(f)].flat()).length < sent.length && Date.now() < deadline) await Bun.sleep(5);
  expect(frames).toEqual([JSON.stringify(sent)]);
});

test("foldCredits() folds a frame's credits into one at the last one's place, keeping the total and any reset", () => {
  const credit = (slots: number, reset = false): RunnerMessage => message({ type: "credit", slots, ...(reset ? { reset: true } : {}) });
  const result = (jobId: string): RunnerMessage => message({ type: "result", jobId, attempt: 1, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
  const one = [result("a"), credit(1)];
  expect(foldCredits(one)).toBe(one);
  // Each result still goes out before the credit its slot gave.
  expect(foldCredits([result("a"), credit(1), result("b"), credit(1), result("c"), credit(1)])).toEqual([result("a"), result("b"), result("c"), credit(3)]);
  expect(foldCredits([credit(2), result("a"), credit(0, true), credit(1)])).toEqual([result("a"), credit(1, true)]);
  expect(foldCredits([credit(2), credit(1), credit(0, true)])).toEqual([credit(0, true)]);
});

test("the WebSocket transport sends the credits of one turn as one message", async () => {
  const frames: string[] = [];
  server = frameServer(frames);
  transport = await openWebSocketTransport({ baseUrl: `http://127.0.0.1:${server.port}`, client: defaultControllerClient, sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000, onFrame: () => undefined });
  const accept = message({ type: "accept", jobId: "j", attempt: 1 }) as RunnerMessage;
  transport.send([message({ type: "credit", slots: 1 }) as RunnerMessage]);
  transport.send([accept]);
  transport.send([message({ type: "credit", slots: 1 }) as RunnerMessage]);
  const deadline = Date.now() + 5000;
  while (frames.length === 0 && Date.now() < deadline) await Bun.sleep(5);
  expect(frames.map((f) => JSON.parse(f))).toEqual([[accept, { v: 1, type: "credit", slots: 2 }]]);
});
