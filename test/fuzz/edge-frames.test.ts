// Fuzz target 1 (docs/testing.md, "Fuzzing"): mutated edge-protocol frames from a controller,
// fed to the real runner (Runner + EdgeConnection + runJob) through the WebSocket transport's own
// message handler, the path a socket delivers on; and mutated session answers through the real
// session call. Each case: nothing throws out of the handler, the runner stays up and keeps
// answering, a refused frame's error names the field, and memory stays bounded.

import { afterAll, expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { openWebSocketTransport } from "../../src/controller/edge/ws-transport.ts";
import { createSession } from "../../src/controller/edge/session.ts";
import { openPollTransport } from "../../src/controller/edge/poll-transport.ts";
import { controllerSecretResolver } from "../../src/runner/controller-secrets.ts";
import { controllerArtifactSink } from "../../src/runner/controller-artifacts.ts";
import { RunnerKeyRing } from "../../src/secrets/key-ring.ts";
import type { TransportOpener } from "../../src/controller/edge/opener.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { Runner } from "../../src/runner/runner.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { EdgeError } from "../../src/errors.ts";
import { caseLabel, fuzzCases, fuzzSeed, heapUsed, invalidUtf8, mutate, mutateText, namesAField, Rng, fuzzTimeout } from "./fuzz-kit.ts";

/** A WebSocket the test drives: the transport sets its handlers, the test calls onmessage. */
class FakeSocket {
  readyState = 0;
  readonly sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor() {
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(frame: string): void {
    this.sent.push(frame);
  }
  close(code = 1000, reason = ""): void {
    if (this.readyState > 1) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const sockets: FakeSocket[] = [];
const client: ControllerClient = {
  fetch: () => Promise.reject(new Error("no network in this test")),
  openWebSocket: () => {
    const socket = new FakeSocket();
    sockets.push(socket);
    return socket as unknown as WebSocket;
  },
};
const opener: TransportOpener = {
  session: () => Promise.resolve({ v: 1, sessionId: "s1", token: "t", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 1000, features: ["release"] }),
  open: (_kind, options) => openWebSocketTransport(options),
};

const idle = () => new Promise<void>((resolve) => setImmediate(resolve));
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

// What a controller sends, valid: offers, cancels, acks, result acks (each refusal), errors.
const VALID: unknown[] = [
  { v: 1, type: "offer", job: { id: "j1", attempt: 1, group: "g", plugin: "echo", action: "default", input: { a: [1, "x"] }, timeoutMs: 5000, secrets: ["controller:db"], leaseExpiresAt: 1, submittedAt: 1 } },
  { v: 1, type: "cancel", jobId: "j1", attempt: 1, reason: "user" },
  { v: 1, type: "heartbeat_ack", leases: [{ jobId: "j1", attempt: 1, ok: false, reason: "expired" }, { jobId: "j2", attempt: 2, ok: true, leaseExpiresAt: 5 }] },
  { v: 1, type: "ack", jobId: "j1", attempt: 1, seq: 3 },
  { v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: false, reason: "events_missing", expectedSeq: 1 },
  { v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: true },
  { v: 1, type: "error", error: { code: "malformed_frame", message: "bad" } },
];

/** The real runner on the real edge connection, over a WebSocket the test drives. */
async function startRunner() {
  const { logger, records } = memoryLogger();
  const state = { ran: 0 };
  // Jobs end at once, with a log line, a step and an output: every offer the fuzz lets through
  // exercises the outbox (acks, result acks, resends) like a real job.
  const executor: JobExecutor = {
    run: (request) => {
      state.ran++;
      request.onLog({ ts: 1, level: "info", msg: "hello" });
      request.onStep({ id: "s", status: "succeeded" });
      return Promise.resolve({ status: "succeeded", output: { ok: true } });
    },
    workers: () => [],
    close: () => Promise.resolve(),
  };
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 1, reconnectMaxMs: 5, startJitterMs: 0, logger, random: () => 0.5, opener, client,
  });
  const runner = new Runner({ runnerId: "r1", group: "g", controllerUrl: "http://127.0.0.1:1", concurrency: 4, prefetch: 2, jobTimeoutMs: 60_000, drainTimeoutMs: 1000, flushTimeoutMs: 10, connection, executor, logger });
  const count = sockets.length;
  runner.start();
  stops.push(() => runner.interruptNow());
  for (let i = 0; i < 50 && sockets.length === count; i++) await idle();
  const socket = sockets.at(-1) as FakeSocket;
  for (let i = 0; i < 5 && socket.readyState !== 1; i++) await idle();
  expect(socket.readyState).toBe(1);
  return { runner, socket, records, state };
}

/** The error frames the runner sent from index `from` on. */
function errorsSent(socket: FakeSocket, from = 0): string[] {
  return socket.sent.slice(from).flatMap((frame) => [JSON.parse(frame)].flat() as Array<{ type: string; error?: { message: string } }>).filter((m) => m.type === "error").map((m) => m.error?.message ?? "");
}

test("fuzz: mutated controller frames reach the runner through the WebSocket handler without harm", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed);
  const { runner, socket, records, state } = await startRunner();
  const before = heapUsed();
  const cases = fuzzCases(3000);
  for (let i = 0; i < cases; i++) {
    const valid = rng.pick(VALID);
    // Distinct ids most of the time (fresh jobs), repeated ones sometimes (duplicates, replays).
    const withId = JSON.parse(JSON.stringify(valid).replaceAll('"j1"', `"j${rng.chance(0.7) ? i : rng.int(5)}"`)) as unknown;
    let data: unknown;
    const form = rng.int(10);
    if (form < 5) data = JSON.stringify(mutate(withId, rng));
    else if (form < 7) data = mutateText(JSON.stringify(withId), rng);
    else if (form < 8) data = JSON.stringify(Array.from({ length: 1 + rng.int(4) }, () => (rng.chance(0.5) ? withId : mutate(withId, rng))));
    else if (form < 9) data = rng.chance(0.5) ? invalidUtf8('{"v":1,"type":"offer"').buffer : new TextDecoder().decode(invalidUtf8('{"v":1,"type":"ack","jobId":"'));
    else data = JSON.stringify(withId);
    const sentBefore = socket.sent.length;
    const logged = records.length;
    try {
      socket.onmessage?.({ data });
    } catch (error) {
      throw new Error(`${caseLabel(seed, i, data)}: the handler threw ${String(error)} ${process.env.EDGE_FUZZ_VERBOSE ? String(data) + (error as Error).stack : ""}`);
    }
    // The transport sends what one turn queued in the next one: let it, so an answer is this case's.
    await idle();
    // A refused frame is answered with an error naming what was wrong.
    for (const error of errorsSent(socket, sentBefore)) {
      if (!/binary frame|a frame of|a batch of|not valid JSON|nests deeper/.test(error)) expect(namesAField(error), `${caseLabel(seed, i, data)} → ${error}`).toBe(true);
    }
    for (const r of records.slice(logged)) expect(r.msg, caseLabel(seed, i, data)).not.toMatch(/bug|TypeError|undefined is not|is not a function|Cannot read prop/);
  }
  await idle();
  // Still up: a valid offer after all that is run and reported.
  const ranBefore = state.ran;
  socket.onmessage?.({ data: JSON.stringify({ v: 1, type: "offer", job: { id: "after-fuzz", attempt: 1, group: "g", plugin: "echo", action: "default", input: null, leaseExpiresAt: 1, submittedAt: 1 } }) });
  for (let i = 0; i < 50 && state.ran === ranBefore; i++) await idle();
  expect(state.ran).toBe(ranBefore + 1);
  if (process.env.EDGE_FUZZ_VERBOSE) console.log({ ran: state.ran, sent: socket.sent.length, logged: records.length, snapshot: runner.snapshot().state, kinds: [...new Set(records.map((r) => r.msg.slice(0, 50)))].slice(0, 40) });
  expect(runner.snapshot().state, JSON.stringify(runner.snapshot().state)).not.toBe("failed");
  // Bounded: what the fuzz left behind is far below what it sent (hundreds of MiB over the run).
  expect(heapUsed() - before).toBeLessThan(64 * 1024 * 1024);
}, fuzzTimeout());

// Found by the fuzz (seed 3, case 8621): a result_ack's `reason` was not checked, and an object
// whose toString is not a function made String() throw out of the socket's message handler.
test("a result_ack whose reason is not a string is refused naming the field, never thrown", async () => {
  const { socket, records } = await startRunner();
  // The runner holds job j1 and has sent its result: the answer about it is the one looked at.
  socket.onmessage?.({ data: JSON.stringify(VALID[0]) });
  for (let i = 0; i < 50 && !socket.sent.some((f) => f.includes('"type":"result"')); i++) await idle();
  const from = socket.sent.length;
  const frame = JSON.stringify({ v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: false, reason: { toString: "x", valueOf: 1 } });
  expect(() => socket.onmessage?.({ data: frame })).not.toThrow();
  await idle();
  expect(errorsSent(socket, from)).toEqual([`Malformed frame: "reason" must be a non-empty string of at most 256 characters`]);
  for (const r of records) expect(r.msg).not.toContain("TypeError");
  // And a number where `expectedSeq` belongs.
  socket.onmessage?.({ data: JSON.stringify({ v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: false, reason: "events_missing", expectedSeq: "1" }) });
  await idle();
  expect(errorsSent(socket, from).at(-1)).toBe(`Malformed frame: "expectedSeq" must be an integer ≥ 1`);
});

/** A controller client whose session call answers `body` with `status`. */
function answering(body: BodyInit | null, status = 201, headers: Record<string, string> = {}): ControllerClient {
  return { fetch: () => Promise.resolve(new Response(body, { status, headers })), openWebSocket: () => { throw new Error("not here"); } };
}

const SESSION = { v: 1, sessionId: "s1", token: "t", heartbeatIntervalMs: 10_000, leaseTtlMs: 30_000, pollWaitMs: 1000, features: ["release"] };

test("fuzz: mutated session answers end in an EdgeError naming the field, never another exception", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x51);
  const cases = fuzzCases(1500);
  for (let i = 0; i < cases; i++) {
    const form = rng.int(6);
    const body = form < 3 ? JSON.stringify(mutate(SESSION, rng)) : form < 5 ? mutateText(JSON.stringify(SESSION), rng) : invalidUtf8("{");
    const status = rng.chance(0.8) ? 201 : rng.pick([200, 400, 401, 403, 426, 429, 500, 503]);
    try {
      const session = await createSession({ baseUrl: "http://127.0.0.1:1", client: answering(body, status, rng.chance(0.2) ? { "retry-after": String(rng.pick(["-1", "1e309", "NaN", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999"])) } : {}), runnerId: "r", group: "g", apiKey: "k", version: "t", transport: "websocket", signal: new AbortController().signal, now: Date.now });
      // Taken: its strings are bounded and its numbers are clamped before use.
      expect(typeof session.sessionId, caseLabel(seed, i, body)).toBe("string");
      expect(session.sessionId.length).toBeLessThanOrEqual(256);
      expect(session.token.length).toBeLessThanOrEqual(16_384);
    } catch (error) {
      expect(error instanceof EdgeError, `${caseLabel(seed, i, body)}: ${String(error)}`).toBe(true);
      const e = error as EdgeError;
      if (e.retryAfterMs !== undefined) expect(Number.isFinite(e.retryAfterMs) && e.retryAfterMs >= 0, `${caseLabel(seed, i, body)}: retryAfterMs ${e.retryAfterMs}`).toBe(true);
      if (status === 201 || status === 200) expect(namesAField(e.message) || /not a JSON object|larger than \d+ bytes/.test(e.message), `${caseLabel(seed, i, body)}: ${e.message}`).toBe(true);
    }
  }
}, fuzzTimeout());

// Found by the fuzz: the session answer was read whole (response.json(), no cap), a `null` answer
// threw a TypeError instead of an EdgeError, and sessionId and token had no length bound.
test("createSession() refuses an answer that is not an object, too large, or whose sessionId is unbounded, naming it", async () => {
  const call = (client: ControllerClient) => createSession({ baseUrl: "http://127.0.0.1:1", client, runnerId: "r", group: "g", apiKey: "k", version: "t", transport: "websocket", signal: new AbortController().signal, now: Date.now });
  const refusal = async (client: ControllerClient) => {
    const error = await call(client).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    return error as EdgeError;
  };
  expect((await refusal(answering("null"))).message).toBe("Cannot create session: the controller's answer is not a JSON object");
  const long = await refusal(answering(JSON.stringify({ ...SESSION, sessionId: "s".repeat(300) })));
  expect(long.code).toBe("protocol_error");
  expect(long.message).toContain(`"sessionId"`);
  // An endless answer is cut at the cap, not read to the end.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({ pull: (c) => { pulled++; c.enqueue(new Uint8Array(64 * 1024).fill(32)); } });
  const big = await refusal(answering(endless));
  expect(big.message).toContain("larger than 65536 bytes");
  expect(pulled).toBeLessThan(10);
});

/** A controller client whose long-poll receive answers `body` once (after the probe), then holds until aborted. */
function pollAnswering(body: BodyInit, status: number): ControllerClient {
  let receives = 0;
  return {
    fetch: (url, init) => {
      if (url.includes("/send") || (init?.method ?? "GET") === "DELETE") return Promise.resolve(new Response(null, { status: 204 }));
      receives++;
      if (receives === 1) return Promise.resolve(Response.json({ messages: [] }));
      if (receives === 2) return Promise.resolve(new Response(body, { status }));
      return new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true }));
    },
    openWebSocket: () => { throw new Error("not here"); },
  };
}

test("fuzz: mutated long-poll answers become frames, a malformed report or a closed session with a reason, never a throw", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x77);
  const cases = Math.ceil(fuzzCases(1500) / 3);
  const answer = { messages: VALID };
  for (let i = 0; i < cases; i++) {
    const form = rng.int(6);
    const body = form < 3 ? JSON.stringify(mutate(answer, rng)) : form < 5 ? mutateText(JSON.stringify(answer), rng) : invalidUtf8('{"messages":[');
    const status = rng.chance(0.9) ? 200 : rng.pick([204, 400, 401, 410, 500, 503]);
    const frames: unknown[] = [];
    const malformed: string[] = [];
    const transport = await openPollTransport({ baseUrl: "http://127.0.0.1:1", client: pollAnswering(body, status), sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000, onFrame: (f) => frames.push(f), onMalformed: (d) => malformed.push(d) });
    for (let n = 0; n < 5 && frames.length === 0 && malformed.length === 0; n++) await idle();
    transport.close();
    const closed = await transport.closed;
    // A receive that ended the session says why in words, not a TypeError's.
    expect(closed.reason, caseLabel(seed, i, body)).not.toMatch(/is not an object|undefined|null is not|Cannot read prop/);
  }
}, fuzzTimeout());

// Found by the fuzz: a long-poll answer of `null` ended the session with "Long-poll receive
// failed: null is not an object (evaluating 'body.messages')"; it is a malformed answer like any
// other answer without a `messages` list (refused whole, naming what it is), and the session goes on.
test("a long-poll answer that is not an object is one malformed answer, not the end of the session", async () => {
  const frames: unknown[] = [];
  const malformed: string[] = [];
  const transport = await openPollTransport({ baseUrl: "http://127.0.0.1:1", client: pollAnswering("null", 200), sessionId: "s1", token: "t", pollWaitMs: 1000, attachTimeoutMs: 30_000, onFrame: (f) => frames.push(f), onMalformedAnswer: (d) => malformed.push(d) });
  let ended: string | undefined;
  void transport.closed.then((c) => (ended = c.reason));
  for (let n = 0; n < 10 && malformed.length === 0; n++) await idle();
  expect(ended).toBeUndefined();
  expect(frames).toEqual([]);
  expect(malformed).toEqual(['a long-poll answer that is null (expected {"messages":[…]})']);
  transport.close();
});

// Found while fuzzing the controller's answers: the runner read its controller's answers to a
// secret resolution and an artifact upload with response.json(), whole whatever their size, and a
// `null` answer threw a TypeError (or a body that is not JSON the parser's SyntaxError) into the
// plugin's ctx.secrets.get / ctx.artifacts.put instead of an error with a code.
test("fuzz: the controller's answers to secret resolutions and artifact uploads end in a value or an EdgeError", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x88);
  const cases = Math.ceil(fuzzCases(1500) / 3);
  for (let i = 0; i < cases; i++) {
    const form = rng.int(6);
    const valid = rng.chance(0.5) ? { jwe: "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.a.b.c.d" } : { sha256: "a".repeat(64) };
    const body = form < 3 ? JSON.stringify(mutate(valid, rng)) : form < 4 ? mutateText(JSON.stringify(valid), rng) : form < 5 ? "null" : invalidUtf8("{");
    const status = rng.chance(0.8) ? 200 : rng.pick([400, 404, 413, 500]);
    const client = answering(body, status);
    const secrets = controllerSecretResolver({ controllerUrl: "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", ring: () => new RunnerKeyRing("/nowhere", []), client })({ jobId: "j", attempt: 1 });
    const sink = controllerArtifactSink({ controllerUrl: "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", client });
    for (const call of [() => secrets.get("controller:db", new AbortController().signal), () => sink.put({ jobId: "j", attempt: 1, name: "plan.bin", body: new Response("x").body as ReadableStream<Uint8Array>, signal: new AbortController().signal })]) {
      try {
        await call();
      } catch (error) {
        expect(error instanceof EdgeError, `${caseLabel(seed, i, body)} ${status}: ${String(error)}`).toBe(true);
      }
    }
  }
}, fuzzTimeout());

test("a controller's null or oversized answer to a secret or an artifact is an EdgeError naming what was asked", async () => {
  const secrets = (client: ControllerClient) => controllerSecretResolver({ controllerUrl: "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", ring: () => new RunnerKeyRing("/nowhere", []), client })({ jobId: "j", attempt: 1 });
  const error = await secrets(answering("null", 200)).get("controller:db", new AbortController().signal).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).message).toBe(`Cannot resolve secret "controller:db": the controller's answer has no "jwe"`);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({ pull: (c) => { pulled++; c.enqueue(new Uint8Array(256 * 1024).fill(32)); } });
  const big = await secrets(answering(endless, 200)).get("controller:db", new AbortController().signal).catch((e: unknown) => e);
  expect((big as EdgeError).message).toContain(`Cannot resolve secret "controller:db": the controller's answer is larger than`);
  expect(pulled).toBeLessThan(10);
  const sink = controllerArtifactSink({ controllerUrl: "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", client: answering("null", 200) });
  expect(await sink.put({ jobId: "j", attempt: 1, name: "plan.bin", body: new Response("x").body as ReadableStream<Uint8Array>, signal: new AbortController().signal })).toEqual({});
});
