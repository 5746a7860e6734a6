// The admin API for jobs: submit, list, get, cancel, read logs, and wait for the end.

import { SECRET_NAME } from "./secret-store.ts";
import { parseReference } from "../secrets/references/reference.ts";

function isReference(ref: string): boolean {
  try {
    parseReference(ref);
    return ref.includes(":");
  } catch {
    return false;
  }
}
import { Hono } from "hono";
import { cancelDurably, decideDurably } from "./operator-change.ts";
import { readThrough } from "./job-read-through.ts";
import type { ControllerCore, SubmitJobInput } from "./controller-core.ts";
import { JOB_STATES, type JobState } from "./job-state.ts";
import { asObject, boundedJson, errorFromException, invalid, onlyFields, optionalId, optionalInt, readJson, type Obj } from "./http-helpers.ts";
import { jobJson } from "./records.ts";
import { encryptSecretInputs, parseSecretInputs } from "./secret-inputs.ts";
import type { AtRestCipher } from "../secrets/at-rest.ts";
import { openSensitiveOutput } from "../secrets/sensitive-outputs.ts";
import { EdgeError } from "../errors.ts";
import { readLimitedText } from "../util/read-limited.ts";
import { hasLoneSurrogate } from "../util/well-formed.ts";
import type { RunnerPublicJwk } from "../secrets/key-ring.ts";

const MAX_TIMEOUT_MS = 7 * 24 * 3_600_000;
const MAX_WAIT_MS = 5 * 60_000;
const DEFAULT_WAIT_MS = 30_000;
/** An approve/reject body is `{"comment": "..."}`; read no further than this. */
const MAX_DECISION_BODY_BYTES = 8192;

/** What the jobs routes need beyond the core: the current encryption keys of a group's runners. */
export type GroupKeys = (group: string) => RunnerPublicJwk[];

export function createAdminJobsApp(core: ControllerCore, groupKeys: GroupKeys = () => [], cipher?: AtRestCipher): Hono {
  const app = new Hono();

  app.onError((error, c) => errorFromException(c, error));

  app.post("/", async function submitJob(c) {
    const { input, secretInputs } = parseSubmit(asObject(await readJson(c, "submit a job", 2 * 1024 * 1024), "submit a job"));
    if (secretInputs !== undefined) {
      const group = input.group ?? "default";
      input.input = await encryptSecretInputs(input.input, secretInputs, groupKeys(group), group);
    }
    const job = core.submitJob(input);
    // The answer is built once the job is durable, not before: while the controller is quiet the
    // batch's write and fsync, and the offer after them, run first (issue 15, latency). The answer
    // waits for the same fsync either way (answerWhenDurable).
    await core.store.durable();
    return c.json(jobJson(job), 201);
  });

  app.get("/", function listJobs(c) {
    const action = "list jobs";
    const query = c.req.query();
    onlyFields(query, ["group", "status", "limit"], action);
    const group = optionalId(query, "group", action);
    const status = query.status;
    if (status !== undefined && !JOB_STATES.includes(status as JobState)) {
      throw invalid(`Cannot ${action}: "status" must be one of ${JOB_STATES.join(", ")} (got "${status.slice(0, 40)}")`);
    }
    const limit = optionalInt(query, "limit", action, 1, 1000) ?? 100;
    const jobs = [...core.store.jobs.values()]
      .filter((j) => (group === undefined || j.group === group) && (status === undefined || j.status === status))
      .sort((a, b) => b.queueSeq - a.queueSeq)
      .slice(0, limit)
      .map(jobJson);
    return c.json({ jobs });
  });

  // Every route that names a job: one submitted through another replica may not be in this
  // replica's view yet (job-read-through.ts).
  app.use("/:id", readThrough(core));
  app.use("/:id/*", readThrough(core));

  app.get("/:id", function getJob(c) {
    return c.json(jobJson(core.requireJob(c.req.param("id"), "get")));
  });

  // Answered with the job as stored: on PostgreSQL the cancel may lose to another replica's change (operator-change.ts).
  app.post("/:id/cancel", async function cancelJob(c) {
    return c.json(jobJson(await cancelDurably(core, c.req.param("id"))));
  });

  // A manual step (the manual plugin) waits for one of these; the body may carry a comment.
  for (const decision of ["approved", "rejected"] as const) {
    app.post(`/:id/${decision === "approved" ? "approve" : "reject"}`, async function decide(c) {
      const action = `${decision === "approved" ? "approve" : "reject"} a job`;
      const text = await readLimitedText(c.req.raw.body, {
        maxBytes: MAX_DECISION_BODY_BYTES,
        tooLarge: () => {
          throw invalid(`Cannot ${action}: the body is over 8 KiB`);
        },
        broken: () => {
          throw invalid(`Cannot ${action}: the body broke off before its end`);
        },
      });
      let comment: string | undefined;
      if (text.trim() !== "") {
        let body: Obj;
        try {
          body = asObject(JSON.parse(text), action);
        } catch {
          throw invalid(`Cannot ${action}: the body must be JSON {"comment": "..."}`);
        }
        onlyFields(body, ["comment"], action);
        if (body.comment !== undefined && typeof body.comment !== "string") throw invalid(`Cannot ${action}: "comment" must be a string`);
        comment = body.comment as string | undefined;
      }
      // Answered as stored: on PostgreSQL the decision may lose to another replica's change (operator-change.ts).
      return c.json(jobJson(await decideDurably(core, c.req.param("id"), decision, comment)));
    });
  }

  app.get("/:id/logs", async function jobLogs(c) {
    const job = core.requireJob(c.req.param("id"), "read the logs of");
    const query = c.req.query();
    const after = optionalInt(query, "after", "read job logs", 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = optionalInt(query, "limit", "read job logs", 1, 10_000) ?? 1000;
    const events = await core.logs.read(job.id, after, limit);
    // `nextSeq` is what to pass as `after` next time.
    return c.json({ events, nextSeq: events.at(-1)?.seq ?? after });
  });

  // The one place a sensitive output is shown: asked for by name, with the admin token.
  app.get("/:id/outputs/:name", function sensitiveOutput(c) {
    const job = core.requireJob(c.req.param("id"), "read an output of");
    if (cipher === undefined) throw new EdgeError("not_found", `Cannot read output "${c.req.param("name")}": this controller keeps no sensitive outputs`);
    c.header("cache-control", "no-store");
    return c.json({ name: c.req.param("name"), value: openSensitiveOutput(job.output, c.req.param("name"), cipher, job.id) });
  });

  app.get("/:id/wait", async function waitForJob(c) {
    const timeoutMs = optionalInt(c.req.query(), "timeoutMs", "wait for a job", 0, MAX_WAIT_MS) ?? DEFAULT_WAIT_MS;
    const job = await core.waitForJob(c.req.param("id"), timeoutMs, c.req.raw.signal);
    return c.json(jobJson(job));
  });

  return app;
}

function parseSubmit(body: Obj): { input: SubmitJobInput; secretInputs?: Record<string, string> } {
  const action = "submit a job";
  onlyFields(body, ["plugin", "action", "input", "group", "timeoutMs", "maxAttempts", "secrets", "secretInputs"], action);
  const name = (field: string): string | undefined => {
    const v = body[field];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "" || v.length > 256) {
      throw invalid(`Cannot ${action}: "${field}" must be a non-empty string of at most 256 characters`);
    }
    // Runners would refuse the offer as malformed, every attempt, until the job ran out of them.
    if (hasLoneSurrogate(v)) throw invalid(`Cannot ${action}: "${field}" must be well-formed Unicode (it holds a lone UTF-16 surrogate)`);
    return v;
  };
  const plugin = name("plugin");
  if (plugin === undefined) throw invalid(`Cannot ${action}: "plugin" is required`);
  const out: SubmitJobInput = { plugin };
  const act = name("action");
  const group = optionalId(body, "group", action);
  const timeoutMs = optionalInt(body, "timeoutMs", action, 1, MAX_TIMEOUT_MS);
  const maxAttempts = optionalInt(body, "maxAttempts", action, 1, 100);
  if (act !== undefined) out.action = act;
  if (body.input !== undefined) out.input = boundedJson(body.input, "input", action);
  if (group !== undefined) out.group = group;
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts;
  if (body.secrets !== undefined) {
    const refs = body.secrets;
    if (!Array.isArray(refs) || refs.length > 50 || !refs.every((r) => typeof r === "string" && (SECRET_NAME.test(r) || isReference(r)))) {
      throw invalid(`Cannot ${action}: "secrets" must be an array of at most 50 secret names (letters, digits, "_.-/") or references (vault:, gcp:, controller:, env:, file:)`);
    }
    if ((refs as string[]).some(hasLoneSurrogate)) throw invalid(`Cannot ${action}: "secrets" must be well-formed Unicode (a reference holds a lone UTF-16 surrogate)`);
    out.secrets = [...new Set(refs as string[])];
  }
  return body.secretInputs === undefined ? { input: out } : { input: out, secretInputs: parseSecretInputs(body.secretInputs, action) };
}
