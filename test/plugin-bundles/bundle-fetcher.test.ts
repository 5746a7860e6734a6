import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { readFile, writeFile, chmod } from "node:fs/promises";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { BundleCache } from "../../src/plugin-bundles/bundle-cache.ts";
import { resolvePluginBundle } from "../../src/plugin-bundles/bundle-fetcher.ts";
import { bundleRoutes } from "../../src/reference-controller/bundle-routes.ts";
import { BundleStore } from "../../src/reference-controller/bundle-store.ts";
import type { TrustedKeyRing } from "../../src/plugin-bundles/key-ring.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { codeOf, errorOf, makeKey, ring, signedBundle, tempDir, type SignedBundle } from "./fixtures.ts";

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A controller with the real store and routes, counting GETs per path. */
async function controller(bundles: SignedBundle[]) {
  const store = new BundleStore({ dir: await tempDir() });
  for (const b of bundles) await store.put({ name: b.manifest.name, version: b.manifest.version, bundle: b.bytes, manifest: b.manifest, signature: b.signature });
  const gets = new Map<string, number>();
  const app = new Hono();
  app.use("*", async (c, next) => {
    gets.set(c.req.path, (gets.get(c.req.path) ?? 0) + 1);
    await next();
  });
  app.route("/", bundleRoutes({ store, authorize: (req) => req.headers.get("authorization") === "Bearer runner-token" }));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return { url: server.url, gets, store };
}

/** A controller that serves a fixed manifest answer and a bundle body of its choosing. */
async function fakeController(manifest: unknown, bundle: (c: { body: (b: BodyInit, s: 200, h: Record<string, string>) => Response }) => Response) {
  const app = new Hono();
  app.get("/api/v1/plugins/:name/:version/manifest", (c) => c.json(manifest as object));
  app.get("/api/v1/plugins/:name/:version/bundle", (c) => bundle(c as never));
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return server.url;
}

async function setup(keyRing: TrustedKeyRing) {
  const cache = new BundleCache({ dir: await tempDir() });
  return (controllerUrl: string, plugin = "hello", version = "1.0.0", extra: { maxBytes?: number } = {}) =>
    resolvePluginBundle({ plugin, version, controllerUrl, auth: { bearer: "runner-token" }, trustedKeys: keyRing, cache, ...extra });
}

test("resolvePluginBundle() downloads, verifies and caches, then serves from the cache", async () => {
  const key = await makeKey();
  const b = await signedBundle("hello", "1.0.0", key);
  const ctl = await controller([b]);
  const resolve = await setup(await ring(key));
  const first = await resolve(ctl.url);
  expect(first.cached).toBe(false);
  expect(new Uint8Array(await readFile(first.path))).toEqual(b.bytes);
  expect(first.path).toEndWith(".mjs");
  const second = await resolve(ctl.url);
  expect(second).toEqual({ ...first, cached: true });
  expect(ctl.gets.get("/api/v1/plugins/hello/1.0.0/bundle")).toBe(1);
});

test("resolvePluginBundle() shares one download between concurrent resolves of the same bundle", async () => {
  const key = await makeKey();
  const ctl = await controller([await signedBundle("hello", "1.0.0", key, 200_000)]);
  const resolve = await setup(await ring(key));
  const [a, b] = await Promise.all([resolve(ctl.url), resolve(ctl.url)]);
  expect(a.path).toBe(b.path);
  expect(ctl.gets.get("/api/v1/plugins/hello/1.0.0/bundle")).toBe(1);
  expect(ctl.gets.get("/api/v1/plugins/hello/1.0.0/manifest")).toBe(1);
});

test("resolvePluginBundle() refuses what the controller does not have, and a wrong token", async () => {
  const key = await makeKey();
  const ctl = await controller([await signedBundle("hello", "1.0.0", key)]);
  const keyRing = await ring(key);
  const resolve = await setup(keyRing);
  expect(await codeOf(() => resolve(ctl.url, "hello", "9.0.0"))).toBe("bundle_not_found");
  const cache = new BundleCache({ dir: await tempDir() });
  expect(await codeOf(() => resolvePluginBundle({ plugin: "hello", version: "1.0.0", controllerUrl: ctl.url, auth: { bearer: "wrong" }, trustedKeys: keyRing, cache }))).toBe("unauthorized");
  expect(await codeOf(() => resolve(ctl.url, "../etc", "1.0.0"))).toBe("input_invalid");
});

test("resolvePluginBundle() tampering matrix over HTTP: nothing is cached and each has its own code", async () => {
  const key = await makeKey("trusted");
  const stranger = await makeKey("stranger");
  const b = await signedBundle("hello", "1.0.0", key);
  const keyRing = await ring(key);
  const flipped = b.bytes.slice();
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  const other = await signedBundle("hello", "1.0.0", key, 3);
  const byStranger = await signedBundle("hello", "1.0.0", stranger);
  const renamed = await signedBundle("other", "1.0.0", key);
  const v2 = await signedBundle("hello", "2.0.0", key);
  const big = await signedBundle("hello", "1.0.0", key, 5000);
  const serve = (bytes: Uint8Array<ArrayBuffer>) => (c: { body: (b: BodyInit, s: 200, h: Record<string, string>) => Response }) => c.body(bytes, 200, {});

  const cases: Array<[string, unknown, Uint8Array<ArrayBuffer>, string, number?]> = [
    ["unsigned", { manifest: b.manifest, signature: null }, b.bytes, "bundle_unsigned"],
    ["one byte changed", { manifest: b.manifest, signature: b.signature }, flipped, "bundle_digest_mismatch"],
    ["signature of another bundle", { manifest: b.manifest, signature: other.signature }, b.bytes, "bundle_signature_invalid"],
    ["unknown key id", { manifest: byStranger.manifest, signature: byStranger.signature }, byStranger.bytes, "bundle_key_unknown"],
    ["wrong name", { manifest: renamed.manifest, signature: renamed.signature }, renamed.bytes, "bundle_name_mismatch"],
    ["wrong version", { manifest: v2.manifest, signature: v2.signature }, v2.bytes, "bundle_version_mismatch"],
    ["oversized (signed size over the limit)", { manifest: big.manifest, signature: big.signature }, big.bytes, "bundle_too_large", 1024],
    ["oversized (body past the limit)", { manifest: b.manifest, signature: b.signature }, new Uint8Array(4096), "bundle_too_large", 1024],
  ];
  for (const [label, manifestAnswer, body, code, maxBytes] of cases) {
    const url = await fakeController(manifestAnswer, serve(body));
    const cache = new BundleCache({ dir: await tempDir() });
    const got = await codeOf(() =>
      resolvePluginBundle({ plugin: "hello", version: "1.0.0", controllerUrl: url, trustedKeys: keyRing, cache, ...(maxBytes === undefined ? {} : { maxBytes }) }),
    );
    expect([label, got]).toEqual([label, code]);
    expect(await cache.load(b.manifest)).toBeUndefined();
  }
});

test("resolvePluginBundle() reports bundle_truncated when the server cuts the body short", async () => {
  const key = await makeKey();
  const b = await signedBundle("hello", "1.0.0", key, 10_000);
  const url = await fakeController({ manifest: b.manifest, signature: b.signature }, (c) => {
    const half = b.bytes.subarray(0, 5000);
    const body = new ReadableStream<Uint8Array>({ start(controller) { controller.enqueue(half); controller.close(); } });
    return c.body(body, 200, { "content-length": String(b.bytes.byteLength) });
  });
  const resolve = await setup(await ring(key));
  expect(await codeOf(() => resolve(url))).toBe("bundle_truncated");
});

test("resolvePluginBundle() reports bundle_truncated when the connection breaks mid-body", async () => {
  const key = await makeKey();
  const b = await signedBundle("hello", "1.0.0", key);
  const broken: typeof fetch = (async (input: string | URL | Request) => {
    if (String(input).endsWith("/manifest")) return Response.json({ manifest: b.manifest, signature: b.signature });
    const body = new ReadableStream<Uint8Array>({ pull(controller) { controller.enqueue(b.bytes.subarray(0, 10)); controller.error(new Error("ECONNRESET")); } });
    return new Response(body);
  }) as typeof fetch;
  const cache = new BundleCache({ dir: await tempDir() });
  const error = await errorOf(async () => resolvePluginBundle({ plugin: "hello", version: "1.0.0", controllerUrl: "http://127.0.0.1:1", trustedKeys: await ring(key), cache, fetch: broken }));
  expect(error.code).toBe("bundle_truncated");
  expect(error.retryable).toBe(true);
});

test("resolvePluginBundle() deletes a corrupted cache file and downloads the bundle once more", async () => {
  const key = await makeKey();
  const b = await signedBundle("hello", "1.0.0", key);
  const ctl = await controller([b]);
  const cache = new BundleCache({ dir: await tempDir() });
  const { logger, records } = memoryLogger();
  const options = { plugin: "hello", version: "1.0.0", controllerUrl: ctl.url, auth: { bearer: "runner-token" }, trustedKeys: await ring(key), cache, logger };
  const first = await resolvePluginBundle(options);
  await chmod(first.path, 0o644);
  await writeFile(first.path, "globalThis.pwned = true;");
  expect(await codeOf(() => cache.load(b.manifest))).toBe("bundle_cache_corrupt");
  await writeFile(first.path, "globalThis.pwned = true;");
  const again = await resolvePluginBundle(options);
  expect(again.cached).toBe(false);
  expect(new Uint8Array(await readFile(again.path))).toEqual(b.bytes);
  expect(ctl.gets.get("/api/v1/plugins/hello/1.0.0/bundle")).toBe(2);
  expect(records.some((r) => r.level === "warn" && r.code === "bundle_cache_corrupt")).toBe(true);
});

test("resolvePluginBundle() rotation: removing the old key from the directory refuses v1 at once, v2 still runs", async () => {
  const { mkdir, rm } = await import("node:fs/promises");
  const { TrustedKeyRing } = await import("../../src/plugin-bundles/key-ring.ts");
  const old = await makeKey("old");
  const next = await makeKey("new");
  const v1 = await signedBundle("hello", "1.0.0", old);
  const v2 = await signedBundle("hello", "2.0.0", next);
  const ctl = await controller([v1, v2]);
  const dir = await tempDir();
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/old.jwk`, JSON.stringify(old.publicJwk));
  await writeFile(`${dir}/new.jwk`, JSON.stringify(next.publicJwk));
  const keyRing = await TrustedKeyRing.load(dir);
  const cache = new BundleCache({ dir: await tempDir() });
  const resolve = (version: string) => resolvePluginBundle({ plugin: "hello", version, controllerUrl: ctl.url, auth: { bearer: "runner-token" }, trustedKeys: keyRing, cache });
  expect((await resolve("1.0.0")).kid).toBe("old");
  expect((await resolve("2.0.0")).kid).toBe("new");
  await rm(`${dir}/old.jwk`);
  // Even though v1 is in the cache, its signature no longer verifies.
  expect(await codeOf(() => resolve("1.0.0"))).toBe("bundle_key_unknown");
  expect((await resolve("2.0.0")).cached).toBe(true);
});
