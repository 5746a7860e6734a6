// readJson (src/reference-controller/http-helpers.ts): a body of declared length is read whole,
// without a stream reader (a submit's way in, issue 15); one without a length stays capped per chunk.
import { expect, test } from "bun:test";
import { Hono } from "hono";
import { errorFromException, readJson } from "../../src/reference-controller/http-helpers.ts";

const app = new Hono();
app.onError((error, c) => errorFromException(c, error));
app.post("/", async (c) => c.json({ got: await readJson(c, "test a body", 64) }));

/** A request whose body cannot be read through a stream reader, only whole. */
function noStream(body: string, headers: Record<string, string>): Request {
  const request = new Request("http://controller.test/", { method: "POST", body, headers });
  Object.defineProperty(request, "body", { get: () => { throw new Error("read through a stream reader"); } });
  return request;
}

test("readJson() reads a body of declared length whole, without a stream reader", async () => {
  const response = await app.fetch(noStream('{"a":1}', { "content-length": "7" }));
  expect({ status: response.status, body: await response.json() }).toEqual({ status: 200, body: { got: { a: 1 } } });
});

test("readJson() still refuses a declared length over the cap, and caps a body without one while it streams", async () => {
  expect((await app.fetch(noStream("{}", { "content-length": "65" }))).status).toBe(413);
  const chunks = new ReadableStream({ start(controller) { controller.enqueue(new TextEncoder().encode(" ".repeat(100))); controller.close(); } });
  const response = await app.fetch(new Request("http://controller.test/", { method: "POST", body: chunks }));
  expect(response.status).toBe(413);
});
