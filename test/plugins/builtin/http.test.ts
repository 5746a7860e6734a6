import { afterAll, beforeAll, expect, test } from "bun:test";
import { Hono } from "hono";
import { serveHttp, type HttpServer } from "../../../src/platform/http-server.ts";
import { HTTP_BODY_LIMIT_BYTES } from "../../../src/plugins/builtin/http/plugin.ts";
import { request, testPool, waitFor } from "../support/helpers.ts";

const { pool } = testPool();
let server: HttpServer;
let hits = 0;

beforeAll(async () => {
  const app = new Hono();
  app.get("/json", (c) => c.json({ hello: "world" }, 200, { "x-test": "yes" }));
  app.post("/echo", async (c) => c.json({ method: c.req.method, type: c.req.header("content-type"), auth: c.req.header("authorization"), body: await c.req.text() }));
  app.get("/big", (c) => c.text("a".repeat(HTTP_BODY_LIMIT_BYTES + 1000)));
  app.get("/missing", (c) => c.text("nope", 404));
  app.get("/slow", async (c) => {
    hits++;
    await new Promise((resolve) => c.req.raw.signal.addEventListener("abort", resolve));
    return c.text("too late");
  });
  server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await pool.close();
  await server.close();
});

test("http request GETs a URL and returns status, headers and body", async () => {
  const req = request("http", "request", { input: { url: `${server.url}/json?token=abc` } });
  const outcome = await pool.run(req);
  expect(outcome).toMatchObject({ status: "succeeded", output: { status: 200, body: '{"hello":"world"}', truncated: false } });
  expect((outcome.output as { headers: Record<string, string> }).headers["x-test"]).toBe("yes");
  // The query string may carry secrets: the log names only origin and path.
  expect(req.logs.map((l) => l.msg)).toEqual([`Request GET ${server.url}/json`, `Response 200 from GET ${server.url}/json`]);
});

test("http default action POSTs an object body as JSON with the given headers", async () => {
  const outcome = await pool.run(request("http", "default", { input: { url: `${server.url}/echo`, method: "post", headers: { authorization: "Bearer t0k3n" }, body: { a: 1 } } }));
  expect(JSON.parse((outcome.output as { body: string }).body)).toEqual({ method: "POST", type: "application/json", auth: "Bearer t0k3n", body: '{"a":1}' });
});

test("http request returns a non-2xx answer as output, not a failure", async () => {
  expect(await pool.run(request("http", "request", { input: { url: `${server.url}/missing` } }))).toMatchObject({ status: "succeeded", output: { status: 404, body: "nope" } });
});

test("http request cuts a body over 1 MiB and says so", async () => {
  const req = request("http", "request", { input: { url: `${server.url}/big` } });
  const output = (await pool.run(req)).output as { body: string; truncated: boolean };
  expect(output.truncated).toBe(true);
  expect(output.body.length).toBe(HTTP_BODY_LIMIT_BYTES);
  expect(req.logs.some((l) => l.level === "warn" && l.msg === `Response body of GET ${server.url}/big cut at ${HTTP_BODY_LIMIT_BYTES} bytes`)).toBe(true);
});

test("http request refuses anything but http and https with input_invalid", async () => {
  for (const url of ["file:///etc/passwd", "data:text/plain,hi", "ftp://example.com/"]) {
    expect(await pool.run(request("http", "request", { input: { url } }))).toMatchObject({ status: "failed", error: { code: "input_invalid" } });
  }
  expect(await pool.run(request("http", "request", { input: { url: "file:///etc/passwd" } }))).toEqual({ status: "failed", error: { code: "input_invalid", message: 'Cannot run http request: only http and https URLs are allowed, got "file:"' } });
});

test("http request checks its input and names the bad field", async () => {
  const cases: Array<[unknown, string]> = [
    [null, 'input must be an object with a "url"'],
    [{ url: 5 }, '"url" must be a string'],
    [{ url: "not a url" }, '"url" is not a URL: "not a url"'],
    [{ url: server.url, method: "GET /x" }, '"method" must be an HTTP method, got "GET /x"'],
    [{ url: server.url, headers: { a: 1 } }, 'header "a" must be a string'],
    [{ url: server.url, timeoutMs: -5 }, '"timeoutMs" must be an integer from 1 to 2147483647, got -5'],
    // Node's AbortSignal.timeout fires a longer one after 1 ms.
    [{ url: server.url, timeoutMs: 3e9 }, '"timeoutMs" must be an integer from 1 to 2147483647, got 3000000000'],
  ];
  for (const [input, why] of cases) {
    expect(await pool.run(request("http", "request", { input }))).toEqual({ status: "failed", error: { code: "input_invalid", message: `Cannot run http request: ${why}` } });
  }
});

test("http request gives up after its own timeoutMs with connection_failed", async () => {
  const outcome = await pool.run(request("http", "request", { input: { url: `${server.url}/slow`, timeoutMs: 50 } }));
  expect(outcome).toMatchObject({ status: "failed", error: { code: "connection_failed", message: `Cannot finish GET ${server.url}/slow: no answer within 50 ms` } });
});

test("http request is aborted when the job is cancelled", async () => {
  const abort = new AbortController();
  const before = hits;
  const run = pool.run(request("http", "request", { input: { url: `${server.url}/slow` }, signal: abort.signal }));
  await waitFor(() => hits > before, "the request to arrive");
  abort.abort();
  expect(await run).toMatchObject({ status: "cancelled", error: { code: "job_cancelled" } });
});

test("http request reports a refused connection as connection_failed", async () => {
  const outcome = await pool.run(request("http", "request", { input: { url: "http://127.0.0.1:1/" } }));
  expect(outcome).toMatchObject({ status: "failed", error: { code: "connection_failed" } });
});
