// The long-poll attach's first receive is an answer like the later ones: a batch over the bound is
// refused whole and a body that is not {"messages":[…]} is reported as malformed. It used to skip
// both (a first answer of 5,000 messages called onFrame 5,000 times; a `null` was dropped silently).

import { expect, test } from "bun:test";
import { openPollTransport } from "../../src/controller/edge/poll-transport.ts";
import { MAX_BATCH_MESSAGES } from "../../src/protocol/limits.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";

/** Answers the attach's receive (waitMs=0) with `body`; later receives are held until closed. */
function attachAnswering(body: string): ControllerClient {
  return {
    fetch: (url: string, init?: RequestInit) => {
      if (url.includes("waitMs=0")) return Promise.resolve(new Response(body));
      return new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true }));
    },
    openWebSocket: () => {
      throw new Error("not here");
    },
  };
}

async function attach(body: string) {
  let frames = 0;
  const refused: string[] = [];
  const transport = await openPollTransport({
    baseUrl: "http://127.0.0.1:1", client: attachAnswering(body), sessionId: "s1", token: "t", pollWaitMs: 25_000, attachTimeoutMs: 30_000,
    onFrame: () => void frames++, onMalformed: (d) => void refused.push(`frame: ${d}`), onMalformedAnswer: (d) => void refused.push(d),
  });
  transport.close();
  return { frames, refused };
}

test("a first long-poll answer over the batch bound is refused whole, not handed on message by message", async () => {
  const big = JSON.stringify({ messages: Array.from({ length: 5_000 }, () => ({ v: 1, type: "heartbeat_ack", leases: [] })) });
  const { frames, refused } = await attach(big);
  expect(frames).toBe(0);
  expect(refused).toEqual([`a long-poll answer of 5000 messages (at most ${MAX_BATCH_MESSAGES})`]);
});

test("a first long-poll answer of null is reported as a malformed answer", async () => {
  const { frames, refused } = await attach("null");
  expect(frames).toBe(0);
  expect(refused).toEqual(['a long-poll answer that is null (expected {"messages":[…]})']);
});

test("a first long-poll answer within the bound is handed on", async () => {
  const { frames, refused } = await attach(JSON.stringify({ messages: [{ v: 1, type: "heartbeat_ack", leases: [] }] }));
  expect([frames, refused]).toEqual([1, []]);
});
