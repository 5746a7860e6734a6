// A session answer whose sessionId cannot go into a URL (a lone UTF-16 surrogate, which JSON's
// "\ud800" parses to and encodeURIComponent throws a URIError on) is refused when the session is
// created, as protocol_error naming the field; it used to pass the length check and fail every
// attach with "String contained an illegal UTF-16 sequence", in a reconnect loop.

import { afterEach, expect, test } from "bun:test";
import { EdgeError } from "../../src/errors.ts";
import { createSession } from "../../src/controller/edge/session.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";
import { eventually } from "../helpers/harness.ts";

const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

/** A session answer with this raw JSON text as its sessionId (and token), for every POST. */
function answering(sessionId: string, token = '"t"'): ControllerClient {
  const body = `{"v":1,"sessionId":${sessionId},"token":${token},"heartbeatIntervalMs":10000,"leaseTtlMs":30000,"pollWaitMs":1000}`;
  return {
    fetch: () => Promise.resolve(new Response(body, { status: 201, headers: { "content-type": "application/json" } })),
    openWebSocket: () => {
      throw new Error("the attach is not reached in this test");
    },
  };
}

const call = (client: ControllerClient) =>
  createSession({ baseUrl: "http://127.0.0.1:1", client, runnerId: "r", group: "g", apiKey: "k", version: "t", transport: "websocket", signal: new AbortController().signal, now: Date.now });

for (const [field, raw, answer] of [["sessionId", "s\\ud800", answering('"s\\ud800"')], ["sessionId", "\\udc00s", answering('"\\udc00s"')], ["token", "t\\ud83d", answering('"s1"', '"t\\ud83d"')]] as const) {
  test(`createSession() refuses a ${field} with a lone surrogate ("${raw}") as protocol_error naming it`, async () => {
    const error = await call(answer).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).code).toBe("protocol_error");
    expect((error as EdgeError).message).toContain(`"${field}"`);
  });
}

test("createSession() takes a sessionId with a surrogate pair (an emoji is well-formed)", async () => {
  expect((await call(answering('"s\\ud83d\\ude00"'))).sessionId).toBe("s\u{1F600}");
});

for (const transport of ["poll", "websocket"] as const) {
  test(`EdgeConnection over ${transport} shows a session answer with a lone-surrogate sessionId as naming the field`, async () => {
    const { logger } = memoryLogger();
    const connection = new EdgeConnection({
      controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport,
      reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, client: answering('"s\\ud800"'),
    });
    const stop = new AbortController();
    stops.push(stop);
    void connection.run({ signal: stop.signal, onJob: () => {} });
    await eventually(() => connection.status().lastError);
    expect(connection.status().lastError).toContain(`no usable "sessionId"`);
  });
}

// A token the runtime cannot put in the Authorization header ("Header 'Authorization' has invalid
// value") used to be accepted, and every long-poll attach then failed with that, retried forever.
for (const [label, raw, named] of [
  ["a non-ASCII character", '"a\\u0100b"', "a non-ASCII character (U+0100)"],
  ["a line break", '"a\\nb"', "a line break (U+000A)"],
  ["a space", '"x y"', "a space (U+0020)"],
  ["a comma (visible ASCII, not a b64token character)", '"x,y"', "(U+002C)"],
] as const) {
  test(`createSession() refuses a token holding ${label} as protocol_error naming "token", never quoting it`, async () => {
    const error = await call(answering('"s1"', raw)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).code).toBe("protocol_error");
    expect((error as EdgeError).message).toContain('"token"');
    expect((error as EdgeError).message).toContain(named);
    expect((error as EdgeError).message).not.toContain(JSON.parse(raw));
  });
}

test("createSession() takes a token of b64token characters (a JWT, base64 with padding)", async () => {
  for (const token of ["eyJhbGciOi.eyJzdWIi.SflKxw-_~", "YWJj+/d==", "t"]) {
    expect((await call(answering('"s1"', JSON.stringify(token)))).token).toBe(token);
  }
});
