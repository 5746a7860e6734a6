// The admin API under /api/v1: bearer admin-token auth (constant-time), health, and the jobs
// and runners routes.

import { Hono } from "hono";
import { VERSION } from "../version.ts";
import { createAdminJobsApp } from "./admin-jobs.ts";
import { createAdminArtifactsApp } from "./artifact-routes.ts";
import type { ControllerArtifacts } from "./artifact-store.ts";
import { createAdminRunnersApp } from "./admin-runners.ts";
import { createAdminSecretsApp } from "./admin-secrets.ts";
import type { ControllerSecrets } from "./secret-store.ts";
import type { ControllerCore } from "./controller-core.ts";
import { errorFromException, errorResponse } from "./http-helpers.ts";
import { storeRefusal } from "./store-failure.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import { bearerToken, matchesHash } from "./tokens.ts";

export interface AdminAppOptions {
  core: ControllerCore;
  runners: RunnerRegistry;
  secrets: ControllerSecrets;
  artifacts: ControllerArtifacts;
  adminTokenHash: string;
  state: () => "starting" | "ready" | "stopping" | "failed";
  /** Why the state is `failed` (the store cannot be written), shown by /health. */
  reason: () => string | undefined;
  startedAt: number;
  /** PostgreSQL: live sessions of every replica (undefined when the database cannot say). */
  allSessions?: () => Promise<number | undefined>;
}

export function createAdminApp(options: AdminAppOptions): Hono {
  const { core } = options;
  const app = new Hono();

  // Health without a token says only whether the controller is up; with one it adds counters.
  app.get("/health", async function health(c) {
    const state = options.state();
    const body: Record<string, unknown> = { status: state === "ready" ? "ok" : state, version: VERSION };
    const reason = options.reason();
    if (state === "failed" && reason !== undefined) body.reason = reason;
    if (matchesHash(bearerToken(c.req.header("authorization")), options.adminTokenHash)) {
      Object.assign(body, {
        uptimeMs: core.clock.now() - options.startedAt,
        sessions: core.sessions.size,
        queued: core.queuedCount(),
        jobs: core.store.jobs.size,
        runners: core.store.runners.size,
        counters: { ...core.counters },
        store: { kind: core.store.kind, compaction: { ...core.store.compaction }, eventJournalBytes: core.logs.totalBytes },
        background: { sweep: { ...core.background.sweep } },
      });
      const all = await options.allSessions?.();
      if (all !== undefined) body.sessionsAllReplicas = all;
    }
    return c.json(body, state === "ready" ? 200 : 503);
  });

  // Written before answered: a change made (or seen) by this request is durable before the answer
  // leaves; if the store failed, the answer is a 500 and the change was never acknowledged.
  // (/health above answers from state, even after a failure.)
  app.use("*", async function answerWhenDurable(c, next) {
    await next();
    try {
      await core.store.durable();
    } catch (error) {
      // Reads are still served (from memory) while the store cannot be written; a change is not
      // acknowledged: 507 when the disk is full, 503 otherwise, with Retry-After.
      if (c.req.method === "GET" && c.res.status < 500) return;
      c.res = errorFromException(c, storeRefusal(`${c.req.method} ${c.req.path}`, error as Error));
    }
  });

  app.use("*", async function requireAdminToken(c, next) {
    if (!matchesHash(bearerToken(c.req.header("authorization")), options.adminTokenHash)) {
      return errorResponse(c, 401, "unauthorized", "Missing or wrong admin token (Authorization: Bearer <admin token>)");
    }
    await next();
  });

  app.route("/jobs", createAdminJobsApp(core, (group) => options.runners.groupKeys(group), options.secrets.cipher));
  app.route("/jobs", createAdminArtifactsApp({ core, artifacts: options.artifacts }));
  app.route("/runners", createAdminRunnersApp(options.runners));
  app.route("/secrets", createAdminSecretsApp(options.secrets));
  return app;
}
