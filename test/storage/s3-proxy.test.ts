// The S3 store behind an HTTP forward proxy: the SDK reads no proxy variable itself, so its
// request handler's agents open each connection through the proxy the rule names for the
// endpoint (src/platform/proxy-agent.ts), or directly where NO_PROXY says so. Against s3rver
// and the fake proxy only, on loopback (docs/testing.md).

import { afterEach, describe, expect, test } from "bun:test";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { collect } from "../../src/storage/object-store.ts";
import type { ProxyEnv } from "../../src/platform/proxy.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";
import { startForwardProxy, type ForwardProxy, type ForwardProxyOptions } from "../helpers/forward-proxy.ts";

const PASSWORD = "s3-pr0xy-Pw-5";
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function proxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const started = await startForwardProxy(options);
  closers.push(started.close);
  return started;
}

async function s3(): Promise<S3Server> {
  const server = await startS3rver();
  closers.push(() => server.stop());
  return server;
}

function store(server: S3Server, proxyEnv: ProxyEnv) {
  const opened = createS3Store({
    bucket: server.bucket, prefix: "runs", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * 1024 * 1024, requestTimeoutMs: 5000, proxyEnv,
  });
  closers.push(() => opened.close());
  return opened;
}

describe("S3 store behind a forward proxy", () => {
  test("createS3Store() puts and gets an object through HTTP_PROXY's CONNECT tunnel, with Proxy-Authorization", async () => {
    const server = await s3();
    const through = await proxy({ credentials: { user: "runner", pass: PASSWORD } });
    const objects = store(server, { HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` });
    await objects.put("a/b.txt", new TextEncoder().encode("through the proxy"));
    const got = await objects.get("a/b.txt");
    expect(new TextDecoder().decode(await collect(got!.body))).toBe("through the proxy");
    expect(through.targets().length).toBeGreaterThan(0);
    expect(new Set(through.targets())).toEqual(new Set([new URL(server.endpoint).host]));
    expect(through.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`)).toBe(true);
  });

  test("createS3Store() goes direct to an endpoint NO_PROXY names, and through the proxy to one it does not", async () => {
    const server = await s3();
    const through = await proxy();
    const objects = store(server, { HTTP_PROXY: through.url, NO_PROXY: "127.0.0.1" });
    await objects.put("direct.txt", new TextEncoder().encode("direct"));
    expect(await objects.head("direct.txt")).toBeDefined();
    expect(through.requests).toEqual([]);
    const proxied = store(server, { HTTP_PROXY: through.url, NO_PROXY: "s3.example" });
    expect(await proxied.head("direct.txt")).toBeDefined();
    expect(through.requests.length).toBeGreaterThan(0);
  });

  test("createS3Store(): a proxy refusing CONNECT fails the call naming the proxy, not its password", async () => {
    const server = await s3();
    const through = await proxy({ refuseConnect: 403 });
    const objects = store(server, { HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` });
    const error = (await objects.put("refused.txt", new TextEncoder().encode("x")).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(`through proxy "${through.url}" (from HTTP_PROXY): the proxy answered 403`);
    expect(error.message + JSON.stringify(error)).not.toContain(PASSWORD);
  });
});
