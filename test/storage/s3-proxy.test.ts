// The S3 store behind an HTTP forward proxy: the SDK reads no proxy variable itself, so its
// request handler's agents open each connection through the proxy the rule names for the
// endpoint (src/platform/proxy-agent.ts), or directly where NO_PROXY says so. Against s3rver
// and the fake proxy only, on loopback (docs/testing.md).

import { afterEach, describe, expect, test } from "bun:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
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

  test("createS3Store() with the default chain: web identity's STS call goes through the proxy too (the SDK hands STS the store's request handler)", async () => {
    // A fake STS whose name (sts.proxy.test) only the proxy resolves: reached at all, it was reached through the proxy.
    const sts = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "text/xml" }).end(
        `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials>` +
        `<AccessKeyId>${S3RVER_CREDENTIALS.accessKeyId}</AccessKeyId><SecretAccessKey>${S3RVER_CREDENTIALS.secretAccessKey}</SecretAccessKey><SessionToken>sts-session-token</SessionToken>` +
        `<Expiration>${new Date(Date.now() + 3_600_000).toISOString()}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
      ));
    });
    await new Promise<void>((resolve) => sts.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => sts.close(() => resolve())));
    const stsPort = (sts.address() as AddressInfo).port;
    const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-sts-"));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, "token"), "web-identity-token");
    // The chain reads the process's variables: set for this test, restored after it. No shared
    // files (HOME, AWS_CONFIG_FILE), no static keys: web identity is the link that answers.
    const set: Record<string, string | undefined> = {
      AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/edge-runner", AWS_WEB_IDENTITY_TOKEN_FILE: path.join(dir, "token"),
      AWS_ENDPOINT_URL_STS: `http://sts.proxy.test:${stsPort}`, AWS_CONFIG_FILE: path.join(dir, "none"), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "none"),
      AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: "true",
    };
    const before = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(set)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    closers.push(() => {
      for (const [k, v] of Object.entries(before)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    });
    const server = await s3();
    const through = await proxy({ hosts: { "sts.proxy.test": "127.0.0.1" } });
    const opened = createS3Store({
      bucket: server.bucket, prefix: "runs", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true,
      partSizeBytes: 8 * 1024 * 1024, requestTimeoutMs: 5000, proxyEnv: { HTTP_PROXY: through.url },
    });
    closers.push(() => opened.close());
    await opened.put("sts.txt", new TextEncoder().encode("signed with STS credentials"));
    expect(through.targets()).toContain(`sts.proxy.test:${stsPort}`);
    expect(new Set(through.targets())).toEqual(new Set([`sts.proxy.test:${stsPort}`, new URL(server.endpoint).host]));
  });
});
