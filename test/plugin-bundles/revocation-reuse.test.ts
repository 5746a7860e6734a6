// Review S defect 2: docs/plugins.md "a removed key stops the very next job"; docs/security.md
// "expiry (exp) and removal from trustedKeys take effect on the next job", also while a verified
// bundle is reused (bundleRecheckMs, 30 s by default). The reuse used to be keyed on a stat() of
// the trusted-keys directory only: an in-place edit, a passing exp and a removal during a
// verification in flight all let the next jobs run.
import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { mkdirSync, writeFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { bundleRoutes } from "../../src/reference-controller/bundle-routes.ts";
import { BundleStore } from "../../src/reference-controller/bundle-store.ts";
import { runnerBundleResolver } from "../../src/plugin-bundles/runner-bundles.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { codeOf, makeKey, signedBundle, tempDir } from "./fixtures.ts";

const servers: HttpServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function setup(pub: (jwk: object) => object = (j) => j, now?: () => number) {
  const key = await makeKey("key-a");
  const other = await makeKey("key-b");
  const b = await signedBundle("hello", "1.0.0", key);
  const store = new BundleStore({ dir: await tempDir() });
  await store.put({ name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  const app = new Hono();
  app.route("/", bundleRoutes({ store, authorize: (req: Request) => req.headers.get("authorization") === "Bearer k" }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const dataDir = await tempDir();
  const trusted = path.join(dataDir, "trusted-keys");
  mkdirSync(trusted, { mode: 0o700 });
  const file = path.join(trusted, "keys.jwks");
  writeFileSync(file, JSON.stringify({ keys: [pub(key.publicJwk)] }), { mode: 0o644 });
  const resolve = runnerBundleResolver({
    controllerUrl: server.url, runnerId: "r1", apiKey: "k", dataDir, maxBytes: 1 << 20,
    logger: memoryLogger("error").logger, recheckMs: 30_000, // the default bundleRecheckMs
    ...(now === undefined ? {} : { now }),
  });
  const ref = { name: "hello", version: "1.0.0" };
  return { resolve: () => resolve(ref, new AbortController().signal), file, trusted, key, other };
}

test("runnerBundleResolver() stops the next job when a key is removed from a trusted key file edited in place", async () => {
  const t = await setup();
  await t.resolve(); // verified and cached for reuse
  const before = statSync(t.trusted).mtimeMs;
  // The operator revokes key-a: the JWKS now holds only key-b (same file, rewritten in place).
  writeFileSync(t.file, JSON.stringify({ keys: [t.other.publicJwk] }));
  expect(statSync(t.trusted).mtimeMs).toBe(before); // the directory did not change
  expect(await codeOf(() => t.resolve())).toBe("bundle_key_unknown");
});

test("runnerBundleResolver() stops the next job when an exp in the past is added to a trusted key in place", async () => {
  const t = await setup();
  await t.resolve();
  writeFileSync(t.file, JSON.stringify({ keys: [{ ...t.key.publicJwk, exp: 1 }] }));
  expect(await codeOf(() => t.resolve())).toBe("bundle_key_expired");
});

test("runnerBundleResolver() stops the next job once the verifying key's exp passes, inside bundleRecheckMs", async () => {
  let clock = Date.now();
  const exp = Math.ceil(clock / 1000) + 2;
  const t = await setup((j) => ({ ...j, exp }), () => clock);
  await t.resolve();
  clock = exp * 1000 + 1; // 2 s later: well inside bundleRecheckMs
  expect(await codeOf(() => t.resolve())).toBe("bundle_key_expired");
});

// Held at the manifest: job 1 has read the keys, not yet verified. Held at the bundle download:
// job 1 verified with the old keys and finishes after the removal; it must not be kept for reuse.
for (const held of ["/manifest", "/bundle"]) {
test(`runnerBundleResolver() stops the jobs after a key file removed while a verification is in flight at ${held} (no join, no cache)`, async () => {
  const key = await makeKey("key-a");
  const b = await signedBundle("hello", "1.0.0", key);
  const store = new BundleStore({ dir: await tempDir() });
  await store.put({ name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reachedManifest!: () => void;
  const atManifest = new Promise<void>((r) => (reachedManifest = r));
  const app = new Hono();
  app.use("*", async (c: { req: { path: string } }, next: () => Promise<void>) => {
    if (c.req.path.endsWith(held)) { reachedManifest(); await gate; }
    await next();
  });
  app.route("/", bundleRoutes({ store, authorize: () => true }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const dataDir = await tempDir();
  const trusted = path.join(dataDir, "trusted-keys");
  mkdirSync(trusted, { mode: 0o700 });
  writeFileSync(path.join(trusted, "key-a.jwk"), JSON.stringify(key.publicJwk), { mode: 0o644 });
  const resolver = runnerBundleResolver({ controllerUrl: server.url, runnerId: "r1", apiKey: "k", dataDir, maxBytes: 1 << 20, logger: memoryLogger("error").logger, recheckMs: 30_000 });
  const resolve = () => resolver({ name: "hello", version: "1.0.0" }, new AbortController().signal);
  const first = Promise.resolve(resolve()); // job 1: keys read, waiting for the controller
  await atManifest;
  const { rmSync } = await import("node:fs");
  rmSync(path.join(trusted, "key-a.jwk")); // the operator removes the key
  const second = Promise.resolve(resolve()).catch((e: { code?: string }) => e.code); // job 2, after the removal
  release();
  // Job 1 was asked for before the removal: it may run, or be refused by the ring job 2 reloaded.
  const job1 = await first.then(() => "ran", (e: { code?: string }) => e.code);
  if (held === "/bundle") expect(job1).toBe("ran");
  const job2 = await second;
  const job3 = await Promise.resolve(resolve()).then(() => "ran", (e: { code?: string }) => e.code); // job 3, well after the removal
  expect({ job2: typeof job2 === "string" ? job2 : "ran", job3 }).toEqual({ job2: "bundle_key_unknown", job3: "bundle_key_unknown" });
});
}

// The key file broken in place while job 1 downloads: job 2's reload fails and leaves the ring as
// it was, so only the rule "keep a verification only if the keys did not change while it ran"
// stops job 3 from reusing job 1's.
for (const held of ["/bundle broken"]) {
test("runnerBundleResolver() keeps no verification for reuse when the key file broke while it ran", async () => {
  const key = await makeKey("key-a");
  const b = await signedBundle("hello", "1.0.0", key);
  const store = new BundleStore({ dir: await tempDir() });
  await store.put({ name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reachedManifest!: () => void;
  const atManifest = new Promise<void>((r) => (reachedManifest = r));
  const app = new Hono();
  app.use("*", async (c: { req: { path: string } }, next: () => Promise<void>) => {
    if (c.req.path.endsWith("/bundle")) { reachedManifest(); await gate; }
    await next();
  });
  app.route("/", bundleRoutes({ store, authorize: () => true }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const dataDir = await tempDir();
  const trusted = path.join(dataDir, "trusted-keys");
  mkdirSync(trusted, { mode: 0o700 });
  writeFileSync(path.join(trusted, "key-a.jwk"), JSON.stringify(key.publicJwk), { mode: 0o644 });
  const resolver = runnerBundleResolver({ controllerUrl: server.url, runnerId: "r1", apiKey: "k", dataDir, maxBytes: 1 << 20, logger: memoryLogger("error").logger, recheckMs: 30_000 });
  const resolve = () => resolver({ name: "hello", version: "1.0.0" }, new AbortController().signal);
  const first = Promise.resolve(resolve()); // job 1: keys read, waiting for the controller
  await atManifest;
  const { rmSync } = await import("node:fs");
  writeFileSync(path.join(trusted, "key-a.jwk"), "{ half-written"); // a bad edit, in place
  const second = Promise.resolve(resolve()).catch((e: { code?: string }) => e.code); // job 2, after the removal
  release();
  // Job 1 was asked for before the removal: it may run, or be refused by the ring job 2 reloaded.
  const job1 = await first.then(() => "ran", (e: { code?: string }) => e.code);
  expect(job1).toBe("ran");
  const job2 = await second;
  const job3 = await Promise.resolve(resolve()).then(() => "ran", (e: { code?: string }) => e.code); // job 3, well after the removal
  expect({ job2: typeof job2 === "string" ? job2 : "ran", job3 }).toEqual({ job2: "config_invalid", job3: "config_invalid" });
});
}

test("runnerBundleResolver() with bundleRecheckMs 0 catches the in-place edit (control)", async () => {
  const key = await makeKey("key-a"), other = await makeKey("key-b");
  const b = await signedBundle("hello", "1.0.0", key);
  const store = new BundleStore({ dir: await tempDir() });
  await store.put({ name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  const app = new Hono();
  app.route("/", bundleRoutes({ store, authorize: () => true }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const dataDir = await tempDir();
  const trusted = path.join(dataDir, "trusted-keys");
  mkdirSync(trusted, { mode: 0o700 });
  const file = path.join(trusted, "keys.jwks");
  writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
  const resolver = runnerBundleResolver({ controllerUrl: server.url, runnerId: "r1", apiKey: "k", dataDir, maxBytes: 1 << 20, logger: memoryLogger("error").logger, recheckMs: 0 });
  const resolve = () => resolver({ name: "hello", version: "1.0.0" }, new AbortController().signal);
  await resolve();
  writeFileSync(file, JSON.stringify({ keys: [other.publicJwk] }));
  expect(await codeOf(() => resolve())).toBe("bundle_key_unknown");
});
