// Cases for src/platform/node-proxy-fetch.ts, run on Node (node-proxy-fetch.test.ts bundles this
// file and starts it with `node`): a target on loopback and the fake forward proxy, through the
// runner's controller client as the Node runner makes it. Prints one JSON object of results.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { controllerClient } from "../../src/platform/controller-client.ts";
import { nodeProxyAgents, proxyFetch } from "../../src/platform/node-proxy-fetch.ts";
import { startForwardProxy } from "../helpers/forward-proxy.ts";
import { WebSocketServer } from "ws";

const PASSWORD = process.env.CASE_PASSWORD ?? "";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const handlers = new Map<string, Handler>();
const target = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => (handlers.get(new URL(req.url ?? "/", "http://x").pathname) ?? ((_q, r) => r.writeHead(404).end()))(req, res, Buffer.concat(chunks).toString()));
});
await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD } });
const env = { HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` };
const client = controllerClient({ env });

async function outcome<T>(run: () => Promise<T>): Promise<T | { rejected: string; name: string }> {
  try {
    return await run();
  } catch (error) {
    const e = error as { name?: string; message?: string };
    return { rejected: String(e.message), name: String(e.name) };
  }
}

handlers.set("/answer", (req, res, body) => {
  res.setHeader("x-many", ["a", "b"]);
  res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, body, length: req.headers["content-length"] ?? null, chunked: req.headers["transfer-encoding"] ?? null, coding: req.headers["accept-encoding"] }));
});
handlers.set("/empty", (_req, res) => res.writeHead(204).end());
handlers.set("/hold", () => {});
handlers.set("/stall", (_req, res) => res.writeHead(200).write("part"));

const results: Record<string, unknown> = {};

results.get = await outcome(async () => {
  const r = await client.fetch(`${base}/answer`);
  return { status: r.status, many: r.headers.get("x-many"), body: await r.json(), via: client.via?.(`${base}/answer`) };
});
results.postString = await outcome(async () => (await client.fetch(`${base}/answer`, { method: "POST", body: "héllo" })).json());
results.postStream = await outcome(async () => {
  const parts = ["one,", "two,", "three"];
  const body = new ReadableStream<Uint8Array>({ pull: (c) => (parts.length > 0 ? c.enqueue(new TextEncoder().encode(parts.shift())) : c.close()) });
  return (await client.fetch(`${base}/answer`, { method: "PUT", body, duplex: "half" } as RequestInit)).json();
});
results.empty = await outcome(async () => {
  const r = await client.fetch(`${base}/empty`, { method: "DELETE" });
  return { status: r.status, body: r.body };
});
results.abortBeforeAnswer = await outcome(() => client.fetch(`${base}/hold`, { signal: AbortSignal.timeout(200) }));
results.abortDuringBody = await outcome(async () => {
  const stop = new AbortController();
  const r = await client.fetch(`${base}/stall`, { signal: stop.signal });
  setTimeout(() => stop.abort(), 100);
  return r.text();
});
results.abortedAlready = await outcome(() => client.fetch(`${base}/answer`, { signal: AbortSignal.abort() }));
const agents = nodeProxyAgents(env);
results.idleBeforeAnswer = await outcome(() => proxyFetch(`${base}/hold`, {}, agents, 300));
results.idleDuringBody = await outcome(async () => (await proxyFetch(`${base}/stall`, {}, agents, 300)).text());
results.direct = await outcome(async () => {
  const before = through.requests.length;
  const r = await controllerClient({ env: { ...env, NO_PROXY: "127.0.0.1" } }).fetch(`${base}/answer`);
  await r.body?.cancel();
  return { status: r.status, proxied: through.requests.length - before };
});
const refusing = await startForwardProxy({ credentials: { user: "runner", pass: "another" } });
results.refused = await outcome(async () => (await controllerClient({ env: { HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${refusing.port}` } }).fetch(`${base}/answer`)).status);
results.targets = [...new Set(through.targets())];
results.authorizations = [...new Set(through.requests.map((r) => r.proxyAuthorization))];

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
await new Promise((resolve) => wss.once("listening", resolve));
wss.on("connection", (socket) => socket.on("message", (data) => socket.send(`echo ${String(data)}`)));
results.websocket = await outcome(() => new Promise((resolve, reject) => {
  const before = through.requests.length;
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const socket = client.openWebSocket(url);
  socket.onopen = () => socket.send("hi");
  socket.onmessage = (event) => {
    resolve({ message: String(event.data), proxied: through.requests.slice(before).map((r) => `${r.method} ${r.target}`), via: client.via?.(url) });
    socket.close();
  };
  socket.onerror = () => reject(new Error("the WebSocket failed"));
}));
// Stdout to a pipe is asynchronous on Node: exit once the line is out (held sockets stay open).
process.stdout.write(`${JSON.stringify(results)}\n`, () => process.exit(0));
