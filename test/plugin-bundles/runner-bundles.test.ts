// The runner's bundle resolver reuses a verified resolution for bundleRecheckMs (no controller
// round trip per job), and drops every reuse as soon as the trusted keys change.
import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { bundleRoutes } from "../../src/reference-controller/bundle-routes.ts";
import { BundleStore } from "../../src/reference-controller/bundle-store.ts";
import { runnerBundleResolver } from "../../src/plugin-bundles/runner-bundles.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { codeOf, makeKey, signedBundle, tempDir } from "./fixtures.ts";

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup() {
  const key = await makeKey("key-a");
  const b = await signedBundle("hello", "1.0.0", key);
  const store = new BundleStore({ dir: await tempDir() });
  await store.put({ name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  let manifestGets = 0;
  const app = new Hono();
  app.use("*", async (c, next) => {
    if (c.req.path.endsWith("/manifest")) manifestGets++;
    await next();
  });
  app.route("/", bundleRoutes({ store, authorize: (req) => req.headers.get("authorization") === "Bearer k" }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const dataDir = await tempDir();
  const trusted = path.join(dataDir, "trusted-keys");
  mkdirSync(trusted);
  writeFileSync(path.join(trusted, "key-a.jwk"), JSON.stringify(key.publicJwk));
  let now = 1_000_000;
  const resolve = runnerBundleResolver({
    controllerUrl: server.url, runnerId: "r1", apiKey: "k", dataDir, maxBytes: 1 << 20,
    logger: memoryLogger("error").logger, recheckMs: 30_000, now: () => now,
  });
  const ref = { name: "hello", version: "1.0.0" };
  return { resolve: () => resolve(ref, new AbortController().signal), gets: () => manifestGets, advance: (ms: number) => (now += ms), trusted };
}

test("runnerBundleResolver() reuses a verified bundle within bundleRecheckMs and checks again after", async () => {
  const t = await setup();
  const first = await t.resolve();
  expect(await t.resolve()).toEqual(first);
  expect(t.gets()).toBe(1);
  t.advance(30_000);
  await t.resolve();
  expect(t.gets()).toBe(2);
});

test("runnerBundleResolver() answers a reuse synchronously, so the pool dispatches it in the same turn", async () => {
  const t = await setup();
  const first = await t.resolve();
  const again = t.resolve();
  expect(again).not.toBeInstanceOf(Promise);
  expect(again).toEqual(first);
});

test("runnerBundleResolver() drops reuse at once when a trusted key is removed", async () => {
  const t = await setup();
  await t.resolve();
  rmSync(path.join(t.trusted, "key-a.jwk"));
  expect(await codeOf(() => t.resolve())).toBe("bundle_key_unknown");
});
