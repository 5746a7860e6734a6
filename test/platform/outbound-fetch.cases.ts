// Cases for src/platform/outbound-fetch.ts on Node (outbound-fetch.test.ts bundles this file
// for Node and starts it with `node`): the runner's calls other than the controller's, made as
// the Node runner makes them, against targets whose names only the fake proxy resolves (so a call
// that went direct fails), with HTTPS_PROXY/HTTP_PROXY set in process.env. Prints one JSON line.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { startForwardProxy } from "../helpers/forward-proxy.ts";
import { startFakeGcp } from "../fakes/fake-gcp.ts";
import { GcpBackend } from "../../src/secrets/references/gcp-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { ApiClient } from "../../src/plugins/builtin/api-client.ts";
import { RateHolds } from "../../src/plugins/rate-holds.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import httpPlugin from "../../src/plugins/builtin/http/plugin.ts";
import { actionContext, PendingCalls } from "../../src/plugins/action-context.ts";
import type { RunJob } from "../../src/plugins/worker-protocol.ts";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { AdminClient } from "../../src/cli/http-client.ts";
import { outboundFetch, outboundFetchWith } from "../../src/platform/outbound-fetch.ts";

const PASSWORD = process.env.CASE_PASSWORD ?? "";
/** Names only the proxy resolves (.test is reserved: no resolver answers it). */
const API = "api.proxy.test";
const OTHER = "other.proxy.test";
/** One name per client below: a keep-alive tunnel one opened is not counted for the next. */
const NAMES = ["plugin.proxy.test", "ctx.proxy.test", "mesh.proxy.test", "admin.proxy.test"] as const;
const hostsOf = Object.fromEntries([API, OTHER, ...NAMES].map((name) => [name, "127.0.0.1"]));

// One handler behind a plain and a TLS listener; it records what arrived.
const seen: Array<{ host: string; method: string; path: string; authorization: string | null; type: string | null; body: string }> = [];
const handle = (req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = Buffer.concat(chunks).toString();
    seen.push({ host: String(req.headers.host).split(":")[0] ?? "", method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization ?? null, type: req.headers["content-type"] ?? null, body });
    const to = url.searchParams.get("to");
    if (url.pathname === "/redirect" && to !== null) return void res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: to }).end();
    if (url.pathname === "/gzip") return void res.writeHead(200, { "content-encoding": "gzip" }).end(gzipSync("unzipped text"));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, method: req.method, body }));
  });
};
const plain = createServer(handle);
const tls = createTlsServer({ cert: readFileSync(String(process.env.CASE_CERT)), key: readFileSync(String(process.env.CASE_KEY)) }, handle);
await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
const plainPort = (plain.address() as AddressInfo).port;
const tlsPort = (tls.address() as AddressInfo).port;
const https = `https://${API}:${tlsPort}`;

const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD }, hosts: hostsOf });
const proxyUrl = `http://runner:${PASSWORD}@127.0.0.1:${through.port}`;
process.env.HTTP_PROXY = proxyUrl;
process.env.HTTPS_PROXY = proxyUrl;

async function outcome<T>(run: () => Promise<T>): Promise<T | { rejected: string; name: string }> {
  try {
    return await run();
  } catch (error) {
    const e = error as { name?: string; message?: string };
    return { rejected: String(e.message), name: String(e.name) };
  }
}

/** What `run` sent through the proxy: the CONNECT targets (tunnels) and any plain-HTTP requests. */
async function counted<T>(run: () => Promise<T>): Promise<{ result: T | { rejected: string; name: string }; tunnels: string[]; plain: string[] }> {
  const before = through.requests.length;
  const result = await outcome(run);
  const mine = through.requests.slice(before);
  return { result, tunnels: mine.filter((r) => r.method === "CONNECT").map((r) => r.target), plain: mine.filter((r) => r.method !== "CONNECT").map((r) => r.target) };
}

const results: Record<string, unknown> = {};

// GCP Secret Manager: the token exchange and the read. The fake checks the token's audience
// against its own URL, so it stays on 127.0.0.1, which goes through the proxy too (no NO_PROXY).
const fakeGcp = await startFakeGcp();
fakeGcp.addVersion("projects/p/secrets/s", "gcp-through-proxy");
results.gcp = await counted(() =>
  new GcpBackend({ endpoint: fakeGcp.url, serviceAccountJson: fakeGcp.serviceAccountJson, timeoutMs: 5000 }).read(parseReference("gcp:projects/p/secrets/s") as never),
);
results.gcpPort = new URL(fakeGcp.url).port;

// The integrations' API client (GitHub, GitLab, Azure DevOps), over TLS.
const ctx = createTestContext({ signal: new AbortController().signal });
const api = new ApiClient(ctx, { sleep: async () => {}, minBackoffMs: 1, maxBackoffMs: 2, maxAttempts: 1, holds: new RateHolds() });
results.apiClient = await counted(async () => (await api.request({ integration: "GitHub", call: "read run", method: "GET", url: `${https}/repos/x`, idempotent: true })).status);

// The http plugin.
results.httpPlugin = await counted(async () => ((await httpPlugin.actions.request?.({ url: `https://plugin.proxy.test:${tlsPort}/hello`, method: "POST", body: "hi" }, ctx)) as { status: number; body: string }).body);

// A plugin's ctx.fetch, as the worker makes it.
const job: RunJob = { id: "j1", attempt: 1, action: "default", input: {}, artifactMaxBytes: 1024 };
const run = { runId: 1, abort: new AbortController(), outputs: new Map(), finished: false };
const workerCtx = actionContext(run, job, { post: () => {}, calls: new PendingCalls(), logLine: () => {}, postStep: () => {} });
results.ctxFetch = await counted(async () => (await workerCtx.fetch(`http://ctx.proxy.test:${plainPort}/plain`)).status);

// The meshStack API client (a controller, but called with its own client).
const mesh = new MeshstackClient({ baseUrl: `https://mesh.proxy.test:${tlsPort}`, auth: { kind: "basic", username: "u", password: "p" }, runnerName: "r", runnerVersion: "0", nodeId: "n" });
results.meshstack = await counted(async () => ((await mesh.getRunner("uuid")) as { ok?: boolean } | undefined)?.ok);

// The admin CLI's client (`edge-runner job …`) without caFile.
const admin = new AdminClient({ baseUrl: `https://admin.proxy.test:${tlsPort}`, adminToken: "admin-token" });
results.admin = await counted(async () => ((await admin.deleteRunner("r1")) as unknown as { method: string }).method);

// outboundFetch() itself: fetch's behaviour on the Node path.
results.redirect = await counted(async () => {
  const r = await outboundFetch(`${https}/redirect?to=/answer`);
  return { status: r.status, redirected: r.redirected, url: r.url, body: await r.json() };
});
results.seeOther = await counted(async () => {
  const r = await outboundFetch(`${https}/redirect?status=303&to=/after`, { method: "POST", body: "form" });
  return { status: r.status, last: seen.at(-1) };
});
results.crossOrigin = await counted(async () => {
  await (await outboundFetch(`${https}/redirect?to=https://${OTHER}:${tlsPort}/elsewhere`, { headers: { authorization: "Bearer not-for-other" } })).text();
  return seen.slice(-2).map((s) => ({ host: s.host, path: s.path, authorization: s.authorization }));
});
results.redirectError = await outcome(() => outboundFetch(`${https}/redirect?to=/answer`, { redirect: "error" }));
results.manual = await outcome(async () => (await outboundFetch(`${https}/redirect?to=/answer`, { redirect: "manual" })).status);
results.form = await outcome(async () => {
  await (await outboundFetch(`${https}/form`, { method: "POST", body: new URLSearchParams({ a: "1", b: "two" }) })).text();
  return seen.at(-1);
});
results.request = await outcome(async () => {
  await (await outboundFetch(new Request(`${https}/request`, { method: "PUT", body: "from a Request", headers: { authorization: "Bearer r" } }))).text();
  return seen.at(-1);
});
results.gzip = await outcome(async () => (await outboundFetch(`${https}/gzip`, { headers: { "accept-encoding": "gzip" } })).text());
results.noProxy = await counted(async () => (await outboundFetchWith({ HTTPS_PROXY: proxyUrl, NO_PROXY: "127.0.0.1" })(`https://127.0.0.1:${tlsPort}/direct`)).status);
const refusing = await startForwardProxy({ credentials: { user: "runner", pass: "another" }, hosts: { [API]: "127.0.0.1" } });
results.refused = await outcome(() => outboundFetchWith({ HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${refusing.port}` })(`${https}/x`));
results.authorizations = [...new Set(through.requests.map((r) => r.proxyAuthorization))];
// Stdout to a pipe is asynchronous on Node: exit once the line is out (held sockets stay open).
process.stdout.write(`${JSON.stringify(results)}\n`, () => process.exit(0));
