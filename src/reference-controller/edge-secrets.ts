// POST /edge/v1/secrets/resolve: a runner resolves a secret reference for a job it runs. Given
// only to the runner holding the job's current lease, for a reference the job declared at submit;
// everything else is one answer, `secret_not_found`, so names cannot be probed.

import { Hono } from "hono";
import { EDGE_PATHS } from "../protocol/edge-v1.ts";
import type { ControllerCore } from "./controller-core.ts";
import { asObject, errorResponse, readJson } from "./http-helpers.ts";
import { isLeased } from "./job-state.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import type { SecretStore } from "./secret-store.ts";
import { bearerToken } from "./tokens.ts";

export function createEdgeSecretsApp(options: { core: ControllerCore; runners: RunnerRegistry; secrets: SecretStore }): Hono {
  const { core, runners, secrets } = options;
  const app = new Hono();
  app.post(EDGE_PATHS.resolveSecret, async function resolveSecret(c) {
    let body;
    try {
      body = asObject(await readJson(c, "resolve a secret"), "resolve a secret");
    } catch {
      return errorResponse(c, 400, "invalid_request", "Cannot resolve a secret: the body must be JSON {v, runnerId, jobId, attempt, ref}");
    }
    const { runnerId, jobId, attempt, ref } = body;
    if (typeof runnerId !== "string" || typeof jobId !== "string" || typeof attempt !== "number" || typeof ref !== "string") {
      return errorResponse(c, 400, "invalid_request", "Cannot resolve a secret: runnerId, jobId, ref (strings) and attempt (number) are required");
    }
    if (runners.authenticate(runnerId, bearerToken(c.req.header("authorization"))) === undefined) {
      return errorResponse(c, 401, "unauthorized", `Cannot resolve a secret for runner "${runnerId}": unknown runner or wrong API key`);
    }
    const job = core.getJob(jobId);
    const value = secrets.get(ref);
    const allowed = job !== undefined && isLeased(job.status) && job.runnerId === runnerId && job.attempt === attempt && job.secrets?.includes(ref) === true;
    if (!allowed || value === undefined) {
      core.logger.warn("Refused a secret reference", { runnerId, jobId, attempt, ref });
      return errorResponse(c, 404, "secret_not_found", `Cannot resolve secret "${ref}" for job "${jobId}" attempt ${attempt}: not declared by the job, not held by this runner, or not stored`);
    }
    core.logger.info("Secret resolved for a job", { runnerId, jobId, attempt, ref });
    c.header("cache-control", "no-store");
    return c.json({ v: 1, value });
  });
  return app;
}
