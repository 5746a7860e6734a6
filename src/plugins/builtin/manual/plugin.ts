// Built-in "manual": a step that waits for a person. The job stays running with a "Waiting for
// approval" step until someone answers `edge-runner job approve|reject JOB` (the controller's API)
// or the time runs out. The decision is read from the controller's job callback endpoint with the
// job's own callback token (both come through ctx.secrets, reserved references). A meshStack run
// (input with `meshstack`) completes at once with its inputs as outputs, as meshStack's MANUAL does.

import { EdgeError, errorMessage } from "../../../errors.ts";
import { objectOf } from "../../../util/json-answer.ts";
import { readLimitedText } from "../../../util/read-limited.ts";
import { sleep } from "../../../util/time.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { CALLBACK_TOKEN_REF, CALLBACK_URL_REF } from "../callback-info.ts";
import { checkInput } from "../input-schema.ts";
import { isMeshstackRun } from "../meshstack-run.ts";
import { MANUAL_INPUT } from "./schema.ts";

/** The controller answers `{"decision", "comment"}` (a comment of at most 8 KiB): more is not a decision. */
export const MAX_DECISION_BYTES = 64 * 1024;

interface ManualInput {
  message?: string;
  timeoutMs?: number;
  pollMs?: number;
  outputs?: Record<string, unknown>;
}

async function approval(raw: unknown, ctx: ActionContext): Promise<Record<string, unknown>> {
  if (isMeshstackRun(raw)) {
    ctx.step({ id: "manual", name: "Manual Block Run", status: "succeeded" });
    return { ...(raw.inputs ?? {}) };
  }
  checkInput(MANUAL_INPUT, raw ?? {}, "manual");
  const input = (raw ?? {}) as ManualInput;
  let url: string, token: string;
  try {
    url = await ctx.secrets.get(CALLBACK_URL_REF);
    token = await ctx.secrets.get(CALLBACK_TOKEN_REF);
  } catch (error) {
    throw new EdgeError("integration_failed", `Cannot wait for approval of job "${ctx.jobId}": the controller gives no approval callback (${errorMessage(error)})`);
  }
  const step = { id: "approval", name: "Waiting for approval" };
  ctx.step({ ...step, status: "running", ...(input.message === undefined ? {} : { message: input.message }) });
  ctx.log.info(`Waiting for approval: edge-runner job approve ${ctx.jobId} (or reject)${input.message === undefined ? "" : `: ${input.message}`}`);
  const deadline = input.timeoutMs === undefined ? Infinity : Date.now() + input.timeoutMs;
  const pollMs = input.pollMs ?? 2000;
  let failures = 0;
  for (;;) {
    if (ctx.signal.aborted) throw new EdgeError("job_cancelled", `Stopped waiting for approval of job "${ctx.jobId}": cancelled`);
    const answer = await readDecision(`${url}/approval`, token, ctx).catch((error: unknown) => {
      if (error instanceof EdgeError && !error.retryable) throw error;
      // The controller restarting or a network blip: keep waiting, but say so now and then.
      if (++failures % 10 === 1 && !ctx.signal.aborted) ctx.log.warn(`Cannot read the approval decision (will retry): ${errorMessage(error)}`);
      return undefined;
    });
    if (answer?.decision === "approved") {
      ctx.step({ ...step, status: "succeeded", ...(answer.comment === undefined ? {} : { message: answer.comment }) });
      return { ...(input.outputs ?? {}), approved: true, ...(answer.comment === undefined ? {} : { comment: answer.comment }) };
    }
    if (answer?.decision === "rejected") {
      ctx.step({ ...step, status: "failed", message: answer.comment ?? "rejected" });
      throw new EdgeError("approval_rejected", `Job "${ctx.jobId}" was rejected${answer.comment === undefined ? "" : `: ${answer.comment}`}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      ctx.step({ ...step, status: "failed", message: "no answer in time" });
      throw new EdgeError("approval_timeout", `Job "${ctx.jobId}" got no approval within ${input.timeoutMs} ms`);
    }
    await sleep(Math.min(pollMs, left), ctx.signal);
  }
}

async function readDecision(url: string, token: string, ctx: ActionContext): Promise<{ decision: string; comment?: string }> {
  const response = await ctx.fetch(url, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new EdgeError("integration_unauthorized", `Cannot read the approval decision (GET …/approval): the controller refused the job's callback token (${response.status})`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new EdgeError("integration_failed", `GET …/approval answered ${response.status}`, { retryable: true });
  }
  const where = "Cannot read the approval decision (GET …/approval)";
  const text = await readLimitedText(response.body, {
    maxBytes: MAX_DECISION_BYTES,
    tooLarge: (received) => {
      throw new EdgeError("integration_failed", `${where}: the controller's answer is larger than ${MAX_DECISION_BYTES} bytes (${received} read)`);
    },
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EdgeError("integration_failed", `${where}: the controller's answer is not JSON`, { retryable: true });
  }
  const body = objectOf(parsed);
  const decision = typeof body.decision === "string" ? body.decision : "pending";
  return typeof body.comment === "string" ? { decision, comment: body.comment.slice(0, 1024) } : { decision };
}

export default definePlugin({
  name: "manual",
  version: "1.0.0",
  // meshStack names the action after the run's behavior (apply, destroy, detect).
  actions: { default: approval, approve: approval, apply: approval, destroy: approval, detect: approval },
});
