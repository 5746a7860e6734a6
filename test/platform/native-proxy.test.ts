// The clients that rely on the runtime's own proxy support (docs/operations.md, "Behind a
// proxy"): GCP Secret Manager and the pipeline integrations call the global fetch, which on Bun
// reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the process environment at each call. These
// tests hold Bun to that; they test the runtime, not a change of ours (they passed before it).

import { afterEach, describe, expect, test } from "bun:test";
import { GcpBackend } from "../../src/secrets/references/gcp-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { ApiClient } from "../../src/plugins/builtin/api-client.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { RateHolds } from "../../src/plugins/rate-holds.ts";
import { startFakeGcp } from "../fakes/fake-gcp.ts";
import { FakeServer } from "../fakes/http-fake.ts";
import { startForwardProxy, type ForwardProxy, type ForwardProxyOptions } from "../helpers/forward-proxy.ts";
import { setEnv } from "../helpers/env.ts";

const PASSWORD = "native-pr0xy-Pw-7";
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function proxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const started = await startForwardProxy(options);
  closers.push(started.close);
  return started;
}

async function fakeApi(): Promise<FakeServer> {
  const server = new FakeServer();
  server.any(() => ({ status: 200, body: { ok: true } }));
  await server.start();
  closers.push(() => server.stop());
  return server;
}

function apiClient() {
  const ctx = createTestContext({ signal: new AbortController().signal });
  return new ApiClient(ctx, { sleep: async () => {}, minBackoffMs: 1, maxBackoffMs: 2, maxAttempts: 1, holds: new RateHolds() });
}

describe("fetch-based clients on Bun behind a forward proxy", () => {
  test("GcpBackend's token exchange and secret read go through HTTP_PROXY, with Proxy-Authorization", async () => {
    const through = await proxy({ credentials: { user: "runner", pass: PASSWORD } });
    const fake = await startFakeGcp();
    closers.push(fake.close);
    fake.addVersion("projects/p/secrets/s", "gcp-through-proxy");
    closers.push(setEnv({ HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` }));
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 3000 });
    expect(await backend.read(parseReference("gcp:projects/p/secrets/s") as Extract<ReturnType<typeof parseReference>, { backend: "gcp" }>)).toBe("gcp-through-proxy");
    expect(through.targets().some((t) => t.startsWith(`${fake.url}/`) && t.includes("secrets/s"))).toBe(true);
    expect(through.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`)).toBe(true);
  });

  test("ApiClient's call goes through HTTP_PROXY, and direct where NO_PROXY names the host", async () => {
    const through = await proxy();
    const api = await fakeApi();
    closers.push(setEnv({ HTTP_PROXY: through.url, NO_PROXY: "" }));
    const call = { integration: "GitHub", call: "read run", method: "GET", url: `${api.url}/repos/x`, idempotent: true } as const;
    expect((await apiClient().request(call)).status).toBe(200);
    expect(through.targets()).toEqual([`${api.url}/repos/x`]);
    process.env.NO_PROXY = "127.0.0.1";
    expect((await apiClient().request(call)).status).toBe(200);
    expect(through.targets()).toHaveLength(1);
  });

  test("ApiClient through a proxy that answers 407: the call fails saying so, without the proxy's password", async () => {
    const through = await proxy({ credentials: { user: "runner", pass: "the-right-one" } });
    const api = await fakeApi();
    closers.push(setEnv({ HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` }));
    const error = (await apiClient().request({ integration: "GitHub", call: "read run", method: "GET", url: `${api.url}/repos/x`, idempotent: true }).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("407");
    expect(JSON.stringify(error) + error.message).not.toContain(PASSWORD);
  });
});
