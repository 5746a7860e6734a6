// What a running job's outside helpers tell the controller, each with the job's own callback token
// (Authorization: Bearer): a manual step reads the approval decision; a pipeline started in async
// mode posts steps, log lines and its final result. Everything is bounded and stored as job
// events (steps, logs) or on the job (`callbackResult`), never trusted beyond its job.

import { Hono, type Context } from "hono";
import type { StepUpdate } from "../protocol/edge-v1.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { CallbackTokens } from "./callback-tokens.ts";
import { asObject, boundedJson, errorFromException, errorResponse, invalid, onlyFields, readJson } from "./http-helpers.ts";
import { isLeased, isTerminal } from "./job-state.ts";
import type { JobEvent } from "./job-logs.ts";
import type { StoredJob } from "./records.ts";
import { bearerToken } from "./tokens.ts";
import { readThrough } from "./job-read-through.ts";
import { changeUntilLanded } from "./job-write-landed.ts";
import { EdgeError } from "../errors.ts";

const STEP_STATUSES = new Set(["pending", "running", "succeeded", "failed", "skipped"]);
const LEVELS = new Set(["debug", "info", "warn", "error"]);
const TEXT_MAX = 16 * 1024;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

type ApprovalDecision = NonNullable<StoredJob["approval"]>;
type CallbackResult = NonNullable<StoredJob["callbackResult"]>;

export function createCallbackApp(options: { core: ControllerCore; tokens: CallbackTokens }): Hono {
  const { core, tokens } = options;
  const app = new Hono();
  app.onError((error, c) => errorFromException(c, error));
  // A pipeline calls back whichever replica its load balancer picks (controller-core.ts catchUp).
  // Only with the job's callback token (checked without the job): no database read for others.
  app.use("/:id/*", readThrough(core, (c, id) => tokens.verify(id, bearerToken(c.req.header("authorization")))));

  /** The job when the bearer token is its callback token; one answer for every refusal (no probing of ids). */
  function authorized(c: Context, action: string): StoredJob {
    const id = c.req.param("id") ?? "";
    const job = core.getJob(id);
    if (job === undefined || !tokens.verify(id, bearerToken(c.req.header("authorization")))) {
      throw new EdgeError("unauthorized", `Cannot ${action} for job "${id.slice(0, 128)}": unknown job or not its callback token`);
    }
    return job;
  }

  app.get("/:id/approval", function approval(c) {
    const job = authorized(c, "read the approval");
    return c.json(job.approval ?? { decision: "pending" });
  });

  app.post("/:id/steps", async function postStep(c) {
    const job = authorized(c, "report a step");
    const body = asObject(await readJson(c, "report a step", 64 * 1024), "report a step");
    onlyFields(body, ["id", "name", "status", "message"], "report a step");
    if (typeof body.id !== "string" || !ID.test(body.id)) throw invalid(`Cannot report a step: "id" must match ${ID}`);
    if (typeof body.status !== "string" || !STEP_STATUSES.has(body.status)) throw invalid(`Cannot report a step: "status" must be one of ${[...STEP_STATUSES].join(", ")}`);
    const step: StepUpdate = { id: body.id, status: body.status as StepUpdate["status"] };
    if (body.name !== undefined) step.name = text(body.name, "name");
    if (body.message !== undefined) step.message = text(body.message, "message");
    append(core, job, { type: "step", step });
    await acknowledged(core);
    return c.json({ accepted: true });
  });

  app.post("/:id/logs", async function postLogs(c) {
    const job = authorized(c, "report log lines");
    const body = asObject(await readJson(c, "report log lines", 1024 * 1024), "report log lines");
    onlyFields(body, ["lines"], "report log lines");
    if (!Array.isArray(body.lines) || body.lines.length > 1000) throw invalid(`Cannot report log lines: "lines" must be an array of at most 1000 {level, msg}`);
    const now = core.clock.now();
    const lines = body.lines.map((raw, i) => {
      const line = asObject(raw, `report log line ${i}`);
      const level = line.level === undefined ? "info" : line.level;
      if (typeof level !== "string" || !LEVELS.has(level)) throw invalid(`Cannot report log lines: lines[${i}].level must be debug, info, warn or error`);
      return { ts: now, level: level as "info", msg: text(line.msg, `lines[${i}].msg`) };
    });
    append(core, job, { type: "log", lines });
    await acknowledged(core);
    return c.json({ accepted: lines.length });
  });

  app.post("/:id/result", async function postResult(c) {
    const job = authorized(c, "report the result");
    const body = asObject(await readJson(c, "report the result", 1024 * 1024), "report the result");
    onlyFields(body, ["status", "output", "error"], "report the result");
    if (body.status !== "succeeded" && body.status !== "failed") throw invalid(`Cannot report the result: "status" must be "succeeded" or "failed"`);
    const result: CallbackResult = { status: body.status, at: core.clock.now() };
    if (body.output !== undefined) result.output = boundedJson(body.output, "output", "report the result");
    if (body.error !== undefined) {
      const error = asObject(body.error, "report the result");
      result.error = { code: typeof error.code === "string" && /^[a-z][a-z0-9_]{0,63}$/.test(error.code) ? error.code : "pipeline_failed", message: text(error.message ?? "", "error.message") };
    }
    // Written until it lands (on PostgreSQL another replica may have changed the job first): the
    // pipeline is told `accepted` once, and does not send it again.
    const stored = await changeUntilLanded(core, job.id, "report the result of", () => {
      const next: StoredJob = { ...core.requireJob(job.id, "report the result of"), callbackResult: result };
      core.store.putJobs([next]);
      return next;
    });
    append(core, stored, { type: "step", step: { id: "callback-result", name: "Result reported by the pipeline", status: result.status === "succeeded" ? "succeeded" : "failed", ...(result.error === undefined ? {} : { message: result.error.message }) } });
    core.wakeAll();
    await acknowledged(core);
    return c.json({ accepted: true });
  });

  return app;
}

/** `job approve|reject`: records the decision for a job that is running (its manual step polls it). */
export function decideApproval(core: ControllerCore, id: string, decision: "approved" | "rejected", comment?: string): StoredJob {
  const verb = decision === "approved" ? "approve" : "reject";
  const job = core.requireJob(id, verb);
  if (isTerminal(job.status)) throw new EdgeError("conflict", `Cannot ${verb} job "${id}": it is already ${job.status}`);
  const current = job.approval;
  if (current !== undefined) throw new EdgeError("conflict", `Cannot ${verb} job "${id}": it was already ${current.decision}`);
  if (!isLeased(job.status) && job.status !== "queued") throw new EdgeError("conflict", `Cannot ${verb} job "${id}": it is ${job.status}`);
  const approval: ApprovalDecision = { decision, at: core.clock.now() };
  if (comment !== undefined) approval.comment = comment.slice(0, 1024);
  const next: StoredJob = { ...job, approval };
  core.store.putJobs([next]);
  core.logger.info(`Job ${decision}`, { jobId: id });
  return next;
}

/**
 * Resolves once what the callback changed is on disk: a pipeline told "accepted" must not lose it
 * to a crash. A store that cannot be written rejects, which onError answers with 507/503.
 */
function acknowledged(core: ControllerCore): Promise<void> {
  return core.store.durable();
}

function append(core: ControllerCore, job: StoredJob, event: { type: "step"; step: StepUpdate } | { type: "log"; lines: Array<{ ts: number; level: "info"; msg: string }> }): void {
  const cursor = core.cursor(job);
  const base = { seq: cursor.count + 1, attempt: job.attempt, attemptSeq: 0 };
  core.logs.append(job.id, [{ ...base, ...event } as JobEvent]);
  cursor.count++;
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string") throw invalid(`Cannot accept the callback: "${field}" must be a string`);
  return value.length > TEXT_MAX ? `${value.slice(0, TEXT_MAX)}…` : value;
}
