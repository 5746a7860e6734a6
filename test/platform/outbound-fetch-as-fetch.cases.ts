// Cases for outboundFetch() on Node behind a forward proxy, next to Node's own fetch
// (outbound-fetch-as-fetch.test.ts bundles this file for Node and starts it with `node`): each
// case is made through the proxy with outboundFetch() and directly with fetch() against the same
// loopback server, so the test can hold the two to the same answer. Prints one JSON line.

import { createServer } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { startForwardProxy } from "../helpers/forward-proxy.ts";
import { outboundFetchWith, type OutboundFetch } from "../../src/platform/outbound-fetch.ts";
import { proxyForwardAgent, proxyHttpAgent, proxyHttpsAgent } from "../../src/platform/proxy-agent.ts";
import { proxyFetch } from "../../src/platform/node-proxy-fetch.ts";

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString();
    switch (url.pathname) {
      case "/echo":
        return void res.end(JSON.stringify({ method: req.method, contentLength: req.headers["content-length"] ?? null, transferEncoding: req.headers["transfer-encoding"] ?? null, body }));
      case "/307":
        return void res.writeHead(307, { location: "/echo" }).end();
      case "/gzip-empty":
        return void res.writeHead(200, { "content-encoding": "gzip", "content-length": "0" }).end();
      case "/gzip-truncated": {
        const zipped = gzipSync("hello world hello world");
        return void res.writeHead(200, { "content-encoding": "gzip" }).end(zipped.subarray(0, zipped.length - 6));
      }
      case "/deflate":
        return void res.writeHead(200, { "content-encoding": "deflate" }).end(deflateSync("zlib deflate text"));
      case "/deflate-raw":
        return void res.writeHead(200, { "content-encoding": "deflate" }).end(deflateRawSync("raw deflate text"));
      case "/gzip-br":
        return void res.writeHead(200, { "content-encoding": "gzip, br" }).end(brotliCompressSync(gzipSync("double coded")));
      case "/unknown-coding":
        return void res.writeHead(200, { "content-encoding": "gzip, zz" }).end("as sent");
      case "/large":
        return void res.end(Buffer.alloc(3 * 1024 * 1024, "x"));
      case "/host":
        return void res.end(String(req.headers.host));
      case "/to-other":
        return void res.writeHead(302, { location: `http://127.0.0.1:${port}/host` }).end();
      case "/to-credentials":
        return void res.writeHead(302, { location: `http://user:pw-in-location@localhost:${port}/echo` }).end();
    }
    res.writeHead(404).end();
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = (server.address() as AddressInfo).port;
const base = `http://localhost:${port}`;

const proxy = await startForwardProxy({ hosts: { localhost: "127.0.0.1", "plain.proxy.test": "127.0.0.1" } });
const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url };
const outbound = outboundFetchWith(env);

async function settle(run: () => Promise<unknown>): Promise<{ ok: unknown } | { error: string }> {
  try {
    return { ok: await run() };
  } catch (error) {
    const e = error as { name?: string; message?: string };
    return { error: `${e?.name}: ${String(e?.message).slice(0, 160)}` };
  }
}

const results: Record<string, unknown> = {};
/** `run` with outboundFetch() (through the proxy) and with Node's fetch (direct). */
async function both(name: string, run: (f: OutboundFetch) => Promise<unknown>): Promise<void> {
  const before = proxy.requests.length;
  const viaOutbound = await settle(() => run(outbound));
  results[name] = { outbound: viaOutbound, proxied: proxy.requests.length > before, fetch: await settle(() => run(fetch)) };
}

// A proxy as Squid's default squid.conf has it: CONNECT to port 443 only (here: to none).
const squidLike = await startForwardProxy({ refuseConnect: 403, credentials: { user: "u", pass: "squid-like-Pw-1" }, hosts: { "plain.proxy.test": "127.0.0.1" } });
{
  const before = squidLike.requests.length;
  const answer = await settle(async () => (await outboundFetchWith({ HTTP_PROXY: `http://u:squid-like-Pw-1@127.0.0.1:${squidLike.port}` })(`http://plain.proxy.test:${port}/echo?x=1#frag`)).json());
  results.squidLike = { answer, seen: squidLike.requests.slice(before) };
}

await both("requestBodyFraming", async (f) => (await f(new Request(`${base}/echo`, { method: "POST", body: '{"a":1}' }))).json());
await both("requestBody307", async (f) => {
  const r = await f(new Request(`${base}/307`, { method: "POST", body: "kept" }));
  return { status: r.status, body: ((await r.json()) as { body: string }).body };
});
for (const [name, path] of [["gzipEmpty", "/gzip-empty"], ["gzipTruncated", "/gzip-truncated"], ["deflate", "/deflate"], ["deflateRaw", "/deflate-raw"], ["gzipThenBr", "/gzip-br"], ["unknownCoding", "/unknown-coding"]] as const) {
  await both(name, async (f) => (await f(`${base}${path}`, { headers: { "accept-encoding": "gzip, deflate, br" } })).text());
}
await both("hostAcrossOrigins", async (f) => (await f(`${base}/to-other`, { headers: { host: `localhost:${port}` } })).text());
await both("urlWithCredentials", async (f) => (await f(`http://user:pw-in-url@localhost:${port}/echo`)).url);
await both("redirectToCredentials", async (f) => (await f(`${base}/to-credentials`)).url);
await both("byobReader", async (f) => {
  const r = await f(`${base}/echo`);
  const { value } = await (r.body as ReadableStream<Uint8Array>).getReader({ mode: "byob" }).read(new Uint8Array(8));
  return value?.byteLength;
});
await both("largeBody", async (f) => (await (await f(`${base}/large`)).arrayBuffer()).byteLength);

// NO_PROXY naming the reserved .invalid TLD, every spelling: the proxy stays on for other hosts.
for (const noProxy of [".invalid", "invalid", "*.invalid"]) {
  const before = proxy.requests.length;
  const answer = await settle(async () => (await outboundFetchWith({ ...env, NO_PROXY: noProxy })(`http://plain.proxy.test:${port}/echo`)).status);
  results[`noProxy ${noProxy}`] = { answer, proxied: proxy.requests.length > before };
}

// A proxy that opens the tunnel and relays nothing: the TLS handshake inside never completes.
const stall = createNetServer((c) => {
  c.once("data", () => c.write("HTTP/1.1 200 Connection Established\r\n\r\n"));
  c.on("error", () => {});
});
await new Promise<void>((resolve) => stall.listen(0, "127.0.0.1", resolve));
{
  const stallEnv = { HTTPS_PROXY: `http://127.0.0.1:${(stall.address() as AddressInfo).port}` };
  const timing = { connectTimeoutMs: 300, env: stallEnv };
  const agents = { http: proxyHttpAgent({}, timing), https: proxyHttpsAgent({}, timing), forward: proxyForwardAgent({}, timing), env: stallEnv };
  const started = Date.now();
  const answer = await Promise.race([
    settle(() => proxyFetch("https://api.example.test/x", {}, agents, 60_000)),
    new Promise((resolve) => setTimeout(() => resolve({ pending: true }), 5_000)),
  ]);
  results.tlsStall = { answer, ms: Date.now() - started };
}

// Stdout to a pipe is asynchronous on Node: exit once the line is out (held sockets stay open).
process.stdout.write(`${JSON.stringify(results)}\n`, () => process.exit(0));
