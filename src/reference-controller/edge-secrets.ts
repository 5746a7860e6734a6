// The runner's secret calls. POST /edge/v1/keys: a runner tells its encryption keys (current
// first), which the controller encrypts secret inputs and resolved secrets to.
// POST /edge/v1/secrets/resolve: a runner resolves a secret reference for a job it runs. Given
// only to the runner holding the job's current lease, for a reference the job declared at submit,
// and answered as a JWE to that runner's current key (a TLS-terminating proxy sees no value);
// everything else is one answer, `secret_not_found`, so names cannot be probed.

import { Hono } from "hono";
import { EDGE_PATHS } from "../protocol/edge-v1.ts";
import { encryptToRunner } from "../secrets/jwe.ts";
import { parseRunnerPublicKeys } from "../secrets/public-keys.ts";
import type { ControllerCore } from "./controller-core.ts";
import { asObject, errorFromException, errorResponse, readJson } from "./http-helpers.ts";
import { isLeased } from "./job-state.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import type { ControllerSecrets } from "./secret-store.ts";
import { bearerToken } from "./tokens.ts";
import { CALLBACK_PATH_PREFIX, CALLBACK_TOKEN_REF, CALLBACK_URL_REF, type CallbackTokens } from "./callback-tokens.ts";
import { errorMessage } from "../errors.ts";

export interface EdgeSecretsOptions {
  core: ControllerCore;
  runners: RunnerRegistry;
  secrets: ControllerSecrets;
  /** Job-scoped callback tokens and the URL pipelines reach this controller at (job-callbacks.ts). */
  callbacks?: { tokens: CallbackTokens; baseUrl: () => string };
}

export function createEdgeSecretsApp(options: EdgeSecretsOptions): Hono {
  const { core, runners, secrets } = options;
  const app = new Hono();

  app.post(EDGE_PATHS.runnerKeys, async function tellKeys(c) {
    const runnerId = c.req.header("x-edge-runner-id") ?? "";
    // Authenticate before reading the body: an unauthenticated caller costs no parsing.
    if (runners.authenticate(runnerId, bearerToken(c.req.header("authorization"))) === undefined) {
      return errorResponse(c, 401, "unauthorized", `Cannot store keys for runner "${runnerId.slice(0, 128)}": unknown runner or wrong API key`);
    }
    let body;
    try {
      body = asObject(await readJson(c, "store runner keys", 64 * 1024), "store runner keys");
    } catch {
      return errorResponse(c, 400, "invalid_request", "Cannot store runner keys: the body must be JSON {v, runnerId, keys}");
    }
    if (body.runnerId !== runnerId) return errorResponse(c, 400, "invalid_request", "Cannot store runner keys: the body's runnerId differs from the x-edge-runner-id header");
    let keys;
    try {
      keys = await parseRunnerPublicKeys(body.keys);
    } catch (error) {
      return errorResponse(c, 400, "invalid_request", errorMessage(error));
    }
    try {
      // Acknowledged once on disk: a runner told "stored" may rely on secrets sealed to that key.
      runners.setEncryptionKeys(runnerId, keys);
      await core.store.durable();
    } catch (error) {
      // The store cannot be written: 507 (full disk) or 503, never a 400 the runner would not retry.
      return errorFromException(c, error);
    }
    return c.json({ v: 1, current: keys[0]?.kid });
  });

  app.post(EDGE_PATHS.resolveSecret, async function resolveSecret(c) {
    // Authenticate before reading the body: no key, no bytes read.
    if (!runners.knowsKey(bearerToken(c.req.header("authorization")))) {
      return errorResponse(c, 401, "unauthorized", "Cannot resolve a secret: unknown runner or wrong API key");
    }
    let body;
    try {
      body = asObject(await readJson(c, "resolve a secret", 16 * 1024), "resolve a secret");
    } catch {
      return errorResponse(c, 400, "invalid_request", "Cannot resolve a secret: the body must be JSON {v, runnerId, jobId, attempt, ref}");
    }
    const { runnerId, jobId, attempt, ref } = body;
    if (typeof runnerId !== "string" || typeof jobId !== "string" || typeof attempt !== "number" || typeof ref !== "string") {
      return errorResponse(c, 400, "invalid_request", "Cannot resolve a secret: runnerId, jobId, ref (strings) and attempt (number) are required");
    }
    const runner = runners.authenticate(runnerId, bearerToken(c.req.header("authorization")));
    if (runner === undefined) {
      return errorResponse(c, 401, "unauthorized", `Cannot resolve a secret for runner "${runnerId}": unknown runner or wrong API key`);
    }
    const job = core.getJob(jobId);
    const holder = job !== undefined && isLeased(job.status) && job.runnerId === runnerId && job.attempt === attempt;
    // "controller:NAME" and a bare NAME are the same secret of this store.
    const name = ref.startsWith("controller:") ? ref.slice("controller:".length) : ref;
    // The job's own callback URL and token need no declaration: they are good for this job only.
    const callback = holder ? callbackValue(name, jobId) : undefined;
    const allowed = holder && (callback !== undefined || job.secrets?.includes(ref) === true);
    let value: string | undefined;
    try {
      value = callback ?? (allowed ? await secrets.get(name) : undefined);
    } catch (error) {
      // The database is out of reach (503, retried), or a value does not open (its key changed).
      return errorFromException(c, error);
    }
    if (!allowed || value === undefined) {
      core.logger.warn("Refused a secret reference", { runnerId, jobId, attempt, ref });
      return errorResponse(c, 404, "secret_not_found", `Cannot resolve secret "${ref}" for job "${jobId}" attempt ${attempt}: not declared by the job, not held by this runner, or not stored`);
    }
    const key = runner.encryptionKeys?.[0];
    if (key === undefined) {
      return errorResponse(c, 409, "runner_key_unknown", `Cannot resolve secret "${ref}" for runner "${runnerId}": the runner has told no encryption key (POST ${EDGE_PATHS.runnerKeys}); values are only sent encrypted`);
    }
    core.logger.info("Secret resolved for a job", { runnerId, jobId, attempt, ref, kid: key.kid });
    c.header("cache-control", "no-store");
    return c.json({ v: 1, jwe: await encryptToRunner(value, key) });
  });
  return app;

  function callbackValue(name: string, jobId: string): string | undefined {
    if (options.callbacks === undefined) return undefined;
    if (name === CALLBACK_URL_REF) {
      try {
        return `${options.callbacks.baseUrl()}${CALLBACK_PATH_PREFIX}/${encodeURIComponent(jobId)}`;
      } catch {
        return undefined; // not serving HTTP (an in-memory controller): there is no URL to give
      }
    }
    if (name === CALLBACK_TOKEN_REF) return options.callbacks.tokens.token(jobId);
    return undefined;
  }
}
