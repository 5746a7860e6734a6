// The runner behind an HTTP forward proxy (docs/operations.md, "Behind a proxy"): its session
// POST, WebSocket and long-poll reach the reference controller through the fake proxy, plain and
// over TLS; NO_PROXY goes direct; proxy credentials go in Proxy-Authorization and nowhere else; a
// proxy that refuses the tunnel is named in the error. All on loopback, against the fake proxy.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { controllerClient, defaultControllerClient, type ControllerClient } from "../../src/platform/controller-client.ts";
import { memoryLogger, type LogRecord } from "../../src/log/logger.ts";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";
import { startForwardProxy, type ForwardProxy, type ForwardProxyOptions } from "../helpers/forward-proxy.ts";

const PASSWORD = "pr0xy-S3cret-pw";
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let tls: { dir: string; remove: () => void; caFile: string; caPem: string; controller: ReferenceController; apiKey: string };
beforeAll(async () => {
  const tmp = tempDir("edge-runner-proxy-");
  const made = makePrivateCa(tmp.dir);
  const controller = await ReferenceController.start({
    dataDir: path.join(tmp.dir, "c"), logger: memoryLogger("error").logger,
    tls: { cert: readFileSync(made.certFile, "utf8"), key: readFileSync(made.keyFile, "utf8") },
  });
  const apiKey = (await controller.registerRunner({ id: "tls-runner", group: "default" })).apiKey;
  tls = { ...tmp, caFile: made.caFile, caPem: readFileSync(made.caFile, "utf8"), controller, apiKey };
});
afterAll(async () => {
  await tls.controller.close();
  tls.remove();
});

async function proxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const started = await startForwardProxy(options);
  cleanups.push(started.close);
  return started;
}

async function plainController() {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir });
  cleanups.push(tmp.remove, () => controller.close());
  return controller;
}

/** An edge connection to the TLS controller (by its https://localhost URL) with `client`. */
function connectTls(transport: "websocket" | "poll", client: ControllerClient) {
  const { logger, records } = memoryLogger("debug");
  const connection = new EdgeConnection({
    controllerUrl: `https://localhost:${tls.controller.port}`, runnerId: "tls-runner", group: "default", apiKey: tls.apiKey, version: "t", transport,
    reconnectMinMs: 50, reconnectMaxMs: 200, startJitterMs: 0, logger, client,
  });
  const stop = new AbortController();
  const done = connection.run({ signal: stop.signal, onJob: () => {} });
  cleanups.push(async () => {
    stop.abort();
    await done;
  });
  return { connection, records };
}

const logText = (records: LogRecord[]) => JSON.stringify(records);

describe("a runner behind a forward proxy", () => {
  for (const transport of ["websocket", "poll"] as const) {
    test(`controllerClient() takes the session and the ${transport} transport through HTTP_PROXY, and a job runs`, async () => {
      const controller = await plainController();
      const through = await proxy();
      const client = controllerClient({ env: { HTTP_PROXY: through.url } });
      const { runner } = startRunner({ controller, transport, client });
      cleanups.push(() => runner.drain());
      await eventually(() => (runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
      const job = controller.submitJob({ plugin: "echo", input: { hello: "proxy" } });
      const done = await controller.waitForJob(job.id, 10_000);
      expect(done.status).toBe("succeeded");
      const origin = controller.url.replace(/\/+$/, "");
      const authority = origin.replace("http://", "");
      // The session POST is a plain-http request to the proxy with the absolute URI.
      expect(through.requests.some((r) => r.method === "POST" && r.target === `${origin}/edge/v1/sessions`)).toBe(true);
      if (transport === "websocket") {
        // Bun's WebSocket tunnels even ws:// with CONNECT.
        expect(through.targets()).toContain(authority);
      } else {
        expect(through.requests.some((r) => r.method === "GET" && r.target.startsWith(`${origin}/edge/v1/sessions/`))).toBe(true);
      }
    });

    test(`controllerClient() reaches a TLS controller over ${transport} through an HTTPS_PROXY tunnel with caFile`, async () => {
      const through = await proxy();
      const { connection } = connectTls(transport, controllerClient({ caPem: tls.caPem, caFile: tls.caFile, env: { HTTPS_PROXY: through.url } }));
      await eventually(() => (connection.status().state === "connected" ? true : undefined), 10_000, "connected");
      expect(connection.status().transport).toBe(transport);
      expect(through.targets().every((t) => t === `localhost:${tls.controller.port}`)).toBe(true);
      // The session POST's tunnel, and the WebSocket's own.
      expect(through.requests.filter((r) => r.method === "CONNECT").length).toBeGreaterThanOrEqual(transport === "websocket" ? 2 : 1);
    });
  }

  test("defaultControllerClient reads HTTP_PROXY from the process environment at each call, for the session and the WebSocket", async () => {
    const controller = await plainController();
    const through = await proxy();
    const before = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = through.url;
    cleanups.push(() => {
      if (before === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = before;
    });
    const { runner, connection } = startRunner({ controller, transport: "websocket", client: defaultControllerClient });
    cleanups.push(() => runner.drain());
    await eventually(() => (connection.status().state === "connected" ? true : undefined), 10_000, "connected");
    const origin = controller.url.replace(/\/+$/, "");
    // Bun's fetch reads the variable itself; its WebSocket is given it by the client.
    expect(through.requests.some((r) => r.method === "POST" && r.target === `${origin}/edge/v1/sessions`)).toBe(true);
    expect(through.requests.some((r) => r.method === "CONNECT" && r.target === origin.replace("http://", ""))).toBe(true);
  });

  test("controllerClient() goes direct to a host NO_PROXY names, and through the proxy to one it does not", async () => {
    const controller = await plainController();
    const bypassed = await proxy();
    const direct = startRunner({ controller, runnerId: "direct", client: controllerClient({ env: { HTTP_PROXY: bypassed.url, HTTPS_PROXY: bypassed.url, NO_PROXY: "example.com, 127.0.0.1" } }) });
    cleanups.push(() => direct.runner.drain());
    await eventually(() => (direct.connection.status().state === "connected" ? true : undefined), 10_000, "direct runner connected");
    expect(bypassed.requests).toEqual([]);
    const used = await proxy();
    const proxied = startRunner({ controller, runnerId: "proxied", client: controllerClient({ env: { HTTP_PROXY: used.url, NO_PROXY: "example.com, 127.0.0.2" } }) });
    cleanups.push(() => proxied.runner.drain());
    await eventually(() => (proxied.connection.status().state === "connected" ? true : undefined), 10_000, "proxied runner connected");
    expect(used.requests.length).toBeGreaterThan(0);
  });

  test("controllerClient() sends the proxy URL's user:password as Proxy-Authorization, and never shows it", async () => {
    const through = await proxy({ credentials: { user: "runner", pass: PASSWORD } });
    const { connection, records } = connectTls("websocket", controllerClient({ caPem: tls.caPem, caFile: tls.caFile, env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` } }));
    await eventually(() => (connection.status().state === "connected" ? true : undefined), 10_000, "connected");
    expect(through.requests.length).toBeGreaterThan(0);
    expect(through.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`)).toBe(true);
    expect(logText(records)).not.toContain(PASSWORD);
  });

  for (const transport of ["websocket", "poll"] as const) {
    test(`controllerClient() over ${transport}: a proxy answering 407 to wrong credentials is named in the error, the password is not`, async () => {
      const through = await proxy({ credentials: { user: "runner", pass: "the-right-one" } });
      const { connection, records } = connectTls(transport, controllerClient({ caPem: tls.caPem, caFile: tls.caFile, env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` } }));
      const error = await eventually(() => connection.status().lastError, 10_000, "an error");
      expect(error).toContain(`proxy "http://127.0.0.1:${through.port}"`);
      expect(error).toContain("407");
      const shown = error + logText(records);
      for (const form of [PASSWORD, Buffer.from(`runner:${PASSWORD}`).toString("base64"), `runner:${PASSWORD}`]) expect(shown).not.toContain(form);
    });
  }

  test("transport auto: where the proxy refuses the WebSocket's CONNECT but forwards plain http, the runner falls back to long-poll and names the proxy", async () => {
    const controller = await plainController();
    const through = await proxy({ refuseConnect: 403 });
    const client = controllerClient({ env: { HTTP_PROXY: through.url } });
    const { runner, connection, records } = startRunner({ controller, transport: "auto", client });
    cleanups.push(() => runner.drain());
    await eventually(() => (connection.status().state === "connected" && connection.status().transport === "poll" ? true : undefined), 10_000, "connected over poll");
    const job = controller.submitJob({ plugin: "echo", input: { hello: "fallback" } });
    expect((await controller.waitForJob(job.id, 10_000)).status).toBe("succeeded");
    const text = records.map((r) => r.msg).join("\n");
    expect(text).toContain("falling back to HTTP long-poll");
    expect(text).toContain(`through proxy "${through.url}" from HTTP_PROXY`);
  });

  test("controllerClient(): a proxy refusing CONNECT with 403 is named in the error", async () => {
    const through = await proxy({ refuseConnect: 403 });
    const { connection } = connectTls("websocket", controllerClient({ caPem: tls.caPem, caFile: tls.caFile, env: { HTTPS_PROXY: through.url } }));
    const error = await eventually(() => connection.status().lastError, 10_000, "an error");
    expect(error).toContain(`through proxy "${through.url}" from HTTPS_PROXY`);
    expect(error).toContain("403");
  });
});
