// Artifacts over HTTP. Edge: PUT /edge/v1/artifacts/:jobId/:attempt/:name, by the runner holding
// that attempt's lease (authenticated before a byte of the body is read), streamed to disk with
// the size limit and digest (artifact-store.ts). Admin (under /api/v1, behind the admin token):
// GET /jobs/:id/artifacts lists them, GET /jobs/:id/artifacts/:name downloads one.

import { Hono } from "hono";
import { serializeError } from "../errors.ts";
import type { ControllerArtifacts } from "./artifact-store.ts";
import type { ControllerCore } from "./controller-core.ts";
import { errorFromException, errorResponse } from "./http-helpers.ts";
import { isLeased } from "./job-state.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import { bearerToken } from "./tokens.ts";

export function createEdgeArtifactsApp(options: { core: ControllerCore; runners: RunnerRegistry; artifacts: ControllerArtifacts }): Hono {
  const { core, runners, artifacts } = options;
  const app = new Hono();
  app.put("/edge/v1/artifacts/:jobId/:attempt/:name", async function putArtifact(c) {
    const runnerId = c.req.header("x-edge-runner-id") ?? "";
    const { jobId, name } = c.req.param();
    const attempt = Number(c.req.param("attempt"));
    if (runners.authenticate(runnerId, bearerToken(c.req.header("authorization"))) === undefined) {
      return errorResponse(c, 401, "unauthorized", `Cannot store artifact "${name.slice(0, 128)}": unknown runner or wrong API key`);
    }
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > artifacts.maxBytes) return errorResponse(c, 413, "storage_limit", `Cannot store artifact "${name.slice(0, 128)}": ${declared} bytes is over the limit of ${artifacts.maxBytes}`);
    const job = core.getJob(jobId);
    if (job === undefined || !isLeased(job.status) || job.runnerId !== runnerId || job.attempt !== attempt) {
      return errorResponse(c, 409, "stale_attempt", `Cannot store artifact "${name.slice(0, 128)}" of job "${jobId.slice(0, 128)}" attempt ${attempt}: runner "${runnerId}" does not hold it`);
    }
    const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    try {
      // While the store cannot be written, an artifact is refused like every change (507/503).
      core.store.commits.check(`store artifact "${name.slice(0, 128)}"`);
      const stored = await artifacts.put(jobId, attempt, name, body, c.req.header("content-type"), core.clock.now());
      core.logger.info("Stored a job artifact", { jobId, attempt, name, size: stored.size });
      return c.json({ v: 1, name: stored.name, size: stored.size, sha256: stored.sha256 });
    } catch (error) {
      const wire = serializeError(error);
      if (wire.code === "storage_limit") return errorResponse(c, 413, wire.code, wire.message);
      // A full disk is 507, another write failure 503 (store-failure.ts); a bad name 400.
      if (wire.code === "internal") core.logger.error("Artifact upload failed", { jobId, name: name.slice(0, 128), error: wire });
      return errorFromException(c, error);
    }
  });
  return app;
}

export function createAdminArtifactsApp(options: { core: ControllerCore; artifacts: ControllerArtifacts }): Hono {
  const { core, artifacts } = options;
  const app = new Hono();
  app.get("/:id/artifacts", async function listArtifacts(c) {
    const id = c.req.param("id");
    if (core.getJob(id) === undefined) return errorResponse(c, 404, "not_found", `Cannot list artifacts of job "${id.slice(0, 128)}": no such job`);
    try {
      return c.json({ artifacts: await artifacts.list(id) });
    } catch (error) {
      return errorFromException(c, error);
    }
  });
  app.get("/:id/artifacts/:name", async function getArtifact(c) {
    const { id, name } = c.req.param();
    let found;
    try {
      found = core.getJob(id) === undefined ? undefined : await artifacts.open(id, name);
    } catch (error) {
      return errorFromException(c, error);
    }
    if (found === undefined) return errorResponse(c, 404, "not_found", `Cannot read artifact "${name.slice(0, 128)}" of job "${id.slice(0, 128)}": no such artifact`);
    return new Response(found.body, {
      headers: {
        "content-type": found.record.contentType ?? "application/octet-stream",
        "content-length": String(found.record.size),
        "x-artifact-sha256": found.record.sha256,
        "content-disposition": `attachment; filename="${found.record.name}"`,
      },
    });
  });
  return app;
}
