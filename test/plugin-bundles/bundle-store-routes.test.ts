import { expect, test } from "bun:test";
import { bundleRoutes, MANIFEST_HEADER, SIGNATURE_HEADER } from "../../src/reference-controller/bundle-routes.ts";
import { BundleStore, type ControllerBundles } from "../../src/reference-controller/bundle-store.ts";
import { PgBundles } from "../../src/reference-controller/postgres/pg-bundles.ts";
import { forEachStore } from "../helpers/stores.ts";
import { codeOf, errorOf, makeKey, signedBundle, tempDir, type SignedBundle } from "./fixtures.ts";

const ADMIN = "Bearer admin-token";
const authorize = (req: Request, access: "read" | "publish") => req.headers.get("authorization") === (access === "publish" ? ADMIN : "Bearer runner");

function put(app: ReturnType<typeof bundleRoutes>, b: SignedBundle, overrides: { manifest?: unknown; signature?: string; body?: Uint8Array<ArrayBuffer>; auth?: string; path?: string } = {}) {
  return app.request(overrides.path ?? `/api/v1/plugins/${b.manifest.name}/${b.manifest.version}`, {
    method: "PUT",
    headers: {
      authorization: overrides.auth ?? ADMIN,
      [MANIFEST_HEADER]: Buffer.from(JSON.stringify(overrides.manifest ?? b.manifest)).toString("base64url"),
      [SIGNATURE_HEADER]: overrides.signature ?? b.signature,
    },
    body: overrides.body ?? b.bytes,
  });
}

// Both stores behind the same routes: files in the data directory, and PostgreSQL (storeUrl).
forEachStore("plugin bundle store", (fixture) => {
  const newStore = async (maxBytes?: number): Promise<ControllerBundles> => {
    if (fixture.kind === "embedded") return new BundleStore({ dir: await tempDir(), ...(maxBytes === undefined ? {} : { maxBytes }) });
    await fixture.options();
    return new PgBundles(fixture.sql(), maxBytes);
  };

  test("bundleRoutes() publishes with PUT and serves the manifest and bundle with GET", async () => {
    const app = bundleRoutes({ store: await newStore(), authorize });
    const b = await signedBundle("hello", "1.0.0", await makeKey());
    const created = await put(app, b);
    expect(created.status).toBe(201);
    const manifest = await app.request("/api/v1/plugins/hello/1.0.0/manifest", { headers: { authorization: "Bearer runner" } });
    expect(await manifest.json()).toEqual({ manifest: b.manifest, signature: b.signature });
    const bundle = await app.request("/api/v1/plugins/hello/1.0.0/bundle", { headers: { authorization: "Bearer runner" } });
    expect(bundle.headers.get("x-edge-plugin-digest")).toBe(b.manifest.digest);
    expect(new Uint8Array(await bundle.arrayBuffer())).toEqual(b.bytes);
  });

  test("bundleRoutes() refuses unauthorized requests and answers 404 for unknown versions", async () => {
    const app = bundleRoutes({ store: await newStore(), authorize });
    const b = await signedBundle("hello", "1.0.0", await makeKey());
    expect((await put(app, b, { auth: "Bearer runner" })).status).toBe(401);
    expect((await app.request("/api/v1/plugins/hello/1.0.0/manifest")).status).toBe(401);
    const missing = await app.request("/api/v1/plugins/hello/1.0.0/manifest", { headers: { authorization: "Bearer runner" } });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("bundle_not_found");
  });

  test("bundleRoutes() PUT refuses a bundle that does not match its manifest or signature", async () => {
    const app = bundleRoutes({ store: await newStore(2048), authorize });
    const key = await makeKey();
    const b = await signedBundle("hello", "1.0.0", key);
    const other = await signedBundle("hello", "1.0.0", key, 7);
    const big = await signedBundle("hello", "1.0.0", key, 4096);
    const changed = b.bytes.slice();
    changed[3] = (changed[3] ?? 0) ^ 1;
    const cases: Array<[string, Response, number, string]> = [
      ["changed byte", await put(app, b, { body: changed }), 422, "bundle_digest_mismatch"],
      ["unsigned", await put(app, b, { signature: "" }), 422, "bundle_unsigned"],
      ["signature of another manifest", await put(app, b, { signature: other.signature }), 422, "bundle_signature_invalid"],
      ["path names another version", await put(app, b, { path: "/api/v1/plugins/hello/2.0.0" }), 422, "bundle_version_mismatch"],
      ["too large", await put(app, big), 413, "bundle_too_large"],
    ];
    for (const [label, response, status, code] of cases) {
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect([label, response.status, body.error.code]).toEqual([label, status, code]);
      expect(body.error.message).toStartWith('Cannot store bundle "hello@');
    }
  });

  test("put() keeps a version immutable but accepts a new signature for the same bytes", async () => {
    const store = await newStore();
    const oldKey = await makeKey("old"), newKey = await makeKey("new");
    const b = await signedBundle("hello", "1.0.0", oldKey);
    const input = { name: "hello", version: "1.0.0", bundle: b.bytes, manifest: b.manifest, signature: b.signature };
    expect((await store.put(input)).created).toBe(true);
    const { signManifest } = await import("../../src/plugin-bundles/sign-manifest.ts");
    const resigned = await signManifest(b.manifest, newKey);
    expect((await store.put({ ...input, signature: resigned })).created).toBe(false);
    expect((await store.get("hello", "1.0.0"))?.signature).toBe(resigned);
    const different = await signedBundle("hello", "1.0.0", oldKey, 9);
    expect(await codeOf(() => store.put({ ...input, bundle: different.bytes, manifest: different.manifest, signature: different.signature }))).toBe("conflict");
    const stored = await store.get("hello", "1.0.0");
    expect(stored?.size).toBe(b.bytes.byteLength);
    expect(new Uint8Array(await new Response(stored?.body()).arrayBuffer())).toEqual(b.bytes);
    expect(await store.get("..", "1.0.0")).toBeUndefined();
  });
});
