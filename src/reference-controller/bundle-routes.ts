// The controller's plugin endpoints, as a Hono sub-app to mount at the root:
//   GET /api/v1/plugins/:name/:version/manifest  → 200 {manifest, signature}
//   GET /api/v1/plugins/:name/:version/bundle    → 200 the bundle bytes
//   PUT /api/v1/plugins/:name/:version           → 201 created | 200 re-signed; raw body = bundle,
//       headers X-Edge-Plugin-Manifest (base64url JSON) and X-Edge-Plugin-Signature (compact JWS).
// Errors answer {"error":{"code","message"}} like the rest of the controller API.

import { Hono, type Context } from "hono";
import { EdgeError, errorMessage, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { bundleError } from "../plugin-bundles/bundle-errors.ts";
import type { ControllerBundles, StoredBundle } from "./bundle-store.ts";
import { pluginRef } from "../plugin-bundles/manifest.ts";
import { readLimited } from "../util/read-limited.ts";
import { RUNNER_ID_HEADER } from "../plugin-bundles/runner-bundles.ts";
import { bearerToken, matchesHash } from "./tokens.ts";

export const MANIFEST_HEADER = "x-edge-plugin-manifest";
export const SIGNATURE_HEADER = "x-edge-plugin-signature";

export type BundleAccess = "read" | "publish";

export interface BundleRoutesOptions {
  store: ControllerBundles;
  /** Decides each request; runners need "read", `plugin publish` needs "publish". Fail closed. */
  authorize: (request: Request, access: BundleAccess) => boolean | Promise<boolean>;
  /** Where unexpected (500) errors are logged. */
  logger?: Logger;
}

/**
 * The reference controller's rule: the admin token may publish and read; a registered runner's
 * API key (with its id in RUNNER_ID_HEADER) may read.
 */
export function adminPublishesRunnersRead(adminTokenHash: string, runnerKeyValid: (runnerId: string, token: string | undefined) => boolean): BundleRoutesOptions["authorize"] {
  return (request, access) => {
    const token = bearerToken(request.headers.get("authorization") ?? undefined);
    if (matchesHash(token, adminTokenHash)) return true;
    if (access !== "read") return false;
    const runnerId = request.headers.get(RUNNER_ID_HEADER);
    return runnerId !== null && runnerKeyValid(runnerId, token);
  };
}

const STATUS: Record<string, 400 | 401 | 404 | 409 | 413 | 422> = {
  input_invalid: 400,
  unauthorized: 401,
  bundle_not_found: 404,
  conflict: 409,
  bundle_too_large: 413,
};

export function bundleRoutes(options: BundleRoutesOptions): Hono {
  const app = new Hono();
  const { store } = options;

  app.use("/api/v1/plugins/*", async function authorizeBundleRequest(c, next) {
    const access: BundleAccess = c.req.method === "PUT" ? "publish" : "read";
    if (!(await options.authorize(c.req.raw, access))) {
      return c.json({ error: { code: "unauthorized", message: `Cannot ${access} plugin bundles: not authorized` } }, 401);
    }
    return next();
  });

  app.get("/api/v1/plugins/:name/:version/manifest", async (c) => {
    const { name, version } = c.req.param();
    let entry: StoredBundle | undefined;
    try {
      entry = await store.get(name, version);
    } catch (error) {
      return fail(c, error, options.logger);
    }
    if (entry === undefined) return fail(c, notFound(name, version));
    return c.json({ manifest: entry.manifest, signature: entry.signature });
  });

  app.get("/api/v1/plugins/:name/:version/bundle", async (c) => {
    const { name, version } = c.req.param();
    let entry: StoredBundle | undefined;
    try {
      entry = await store.get(name, version);
    } catch (error) {
      return fail(c, error, options.logger);
    }
    if (entry === undefined) return fail(c, notFound(name, version));
    return c.body(entry.body(), 200, {
      "content-type": "text/javascript; charset=utf-8",
      "content-length": String(entry.size),
      "x-edge-plugin-digest": entry.manifest.digest,
    });
  });

  app.put("/api/v1/plugins/:name/:version", async (c) => {
    const { name, version } = c.req.param();
    const ref = pluginRef(name, version);
    try {
      const manifestHeader = c.req.header(MANIFEST_HEADER);
      const signature = c.req.header(SIGNATURE_HEADER) ?? "";
      if (manifestHeader === undefined) throw new EdgeError("input_invalid", `Cannot store bundle "${ref}": header "${MANIFEST_HEADER}" missing`);
      let manifest: unknown;
      try {
        manifest = JSON.parse(Buffer.from(manifestHeader, "base64url").toString("utf8"));
      } catch (error) {
        throw new EdgeError("input_invalid", `Cannot store bundle "${ref}": header "${MANIFEST_HEADER}" is not base64url JSON (${errorMessage(error)})`);
      }
      const bundle = await readBody(c.req.raw, store.maxBytes, ref);
      const result = await store.put({ name, version, bundle, manifest, signature });
      return c.json({ manifest: result.manifest, created: result.created }, result.created ? 201 : 200);
    } catch (error) {
      return fail(c, error, options.logger);
    }
  });

  return app;
}

function notFound(name: string, version: string): EdgeError {
  return bundleError("bundle_not_found", pluginRef(name, version), "no such plugin version", { action: "find" });
}

function fail(c: Context, error: unknown, logger?: Logger): Response {
  // A full disk is refused like every change of the controller's store (507, Retry-After), not
  // an internal error; the atomic write left no temp file.
  const errno = (error as { code?: unknown } | null)?.code;
  if (errno === "ENOSPC" || errno === "EDQUOT") {
    c.header("Retry-After", "5");
    return c.json({ error: { code: "store_full", message: "Cannot store the bundle: the controller's disk is full" } }, 507);
  }
  const wire = serializeError(error);
  // The database store out of reach: retried like any change the store cannot take now.
  if (wire.code === "store_unavailable") {
    c.header("Retry-After", "5");
    return c.json({ error: wire }, 503);
  }
  const status = STATUS[wire.code] ?? (wire.code.startsWith("bundle_") ? 422 : 500);
  if (status === 500) logger?.error("Plugin bundle request failed", { path: c.req.path, error: wire });
  if (status === 500) return c.json({ error: { code: "internal", message: "Internal error" } }, 500);
  return c.json({ error: wire }, status);
}

async function readBody(request: Request, maxBytes: number, ref: string): Promise<Uint8Array> {
  const tooLarge = () => bundleError("bundle_too_large", ref, `body exceeds the limit of ${maxBytes} bytes`, { action: "store" });
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  return readLimited(request.body, {
    maxBytes,
    tooLarge: () => {
      throw tooLarge();
    },
  });
}
