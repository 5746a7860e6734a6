// Replicas: a job submitted through another replica reaches this one's view by NOTIFY a moment
// later, and a client behind a load balancer (or a pipeline's callback) may ask here first. Every
// route that names a job reads it from the database before anything answers "no such job".

import type { MiddlewareHandler } from "hono";
import type { ControllerCore } from "./controller-core.ts";

/** Loads job `id` from the shared database when this replica has not heard of it (a no-op on the embedded store). */
export async function catchUp(core: ControllerCore, id: string): Promise<void> {
  if (core.store.readThrough === undefined || id.length === 0 || id.length > 128 || core.store.jobs.has(id)) return;
  await core.store.readThrough([id]);
}

/** Middleware for routes with an `:id` job parameter; `allowed` gates the read (a callback's token first). */
export function readThrough(core: ControllerCore, allowed: (c: Parameters<MiddlewareHandler>[0], id: string) => boolean = () => true): MiddlewareHandler {
  return async (c, next) => {
    const id = c.req.param("id") ?? "";
    if (allowed(c, id)) await catchUp(core, id);
    await next();
  };
}
