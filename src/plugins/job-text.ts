// The one place a plugin's text is made fit to leave the runner: redacted with the job's scope
// first, then clipped to the protocol's limits (src/protocol/limits.ts). In this order a cut can
// never split a secret and let half of it through; a cut the plugin made before the runner saw
// the text is met by masking a secret's first part at the end of every text (redactThenClip()).
// The pool calls these on every log line, step and outcome before anything else sees them.

import type { RedactionScope } from "../log/redact.ts";
import { isSensitiveEntry } from "../secrets/sensitive-outputs.ts";
import type { JobOutcome, LogLevel, LogLine, StepStatus, StepUpdate } from "../protocol/edge-v1.ts";
import { MAX_ERROR_CODE_CHARS, MAX_ERROR_MESSAGE_CHARS, MAX_LINE_CHARS } from "../protocol/limits.ts";
import { toWellFormed } from "../util/well-formed.ts";

/** Step ids and names are labels; the protocol's frame check allows 256 characters for an id. */
const MAX_STEP_ID_CHARS = 200;

/**
 * Redacts, then cuts to `max` characters with a note saying how much was cut. Masked as text the
 * plugin may have cut before the runner saw it (cutText(): a trailing part of 4 or more
 * characters that begins a secret is masked too): terraform cuts a step message to 16 KiB and a
 * resource address to 200, a built-in its error to 500 characters, and the runner cannot tell a
 * cut end from a whole one. Masking 4 or more characters that begin a secret at an uncut end
 * costs a little text; leaving them in a cut one shows a secret's first part.
 */
export function redactThenClip(scope: RedactionScope, text: string, max: number): string {
  const clean = scope.cutText(text);
  return clean.length <= max ? clean : `${clean.slice(0, max)}… (${clean.length - max} more characters cut)`;
}

/**
 * Any value a plugin sent where text belongs, as text: a plugin can post any message its worker
 * can, and String() throws for an object whose toString is not a function.
 */
export function plainText(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const STEP_STATUSES: readonly StepStatus[] = ["pending", "running", "succeeded", "failed", "skipped"];

/**
 * A log line: redacted as the next line of the job's stream (a secret split over two lines is
 * masked too), then clipped. A level the protocol does not know becomes `info` and a time that is
 * not a non-negative integer becomes `now`: the controller refuses a whole `log` message for one
 * bad line, and its events would then be missing for good.
 */
export function boundLine(scope: RedactionScope, line: LogLine, now: () => number = Date.now): LogLine {
  const clean = scope.line(plainText(line?.msg));
  const level = LOG_LEVELS.includes(line?.level) ? line.level : "info";
  const ts = Number.isSafeInteger(line?.ts) && line.ts >= 0 ? line.ts : now();
  return { ts, level, msg: clean.length <= MAX_LINE_CHARS ? clean : `${clean.slice(0, MAX_LINE_CHARS)}… (${clean.length - MAX_LINE_CHARS} more characters cut)` };
}

/**
 * A step: its id and name are redacted too (they reach the logs API and the journal like the
 * message). A step the protocol would refuse (not an object, an empty id, an unknown status) is a
 * string naming the field instead, for the pool to log and drop.
 */
export function boundStep(scope: RedactionScope, step: StepUpdate): StepUpdate | string {
  if (step === null || typeof step !== "object") return `"step" must be an object`;
  if (!STEP_STATUSES.includes(step.status)) return `"step.status" must be one of ${STEP_STATUSES.join(", ")}`;
  // Well-formed: the controller refuses a whole `step` message whose id holds a lone surrogate (a
  // plugin's own, or half of a pair the cut split), and the step would be lost.
  const id = toWellFormed(redactThenClip(scope, plainText(step.id), MAX_STEP_ID_CHARS));
  if (step.id === undefined || id === "") return `"step.id" must be a non-empty string`;
  const bounded: StepUpdate = { id, status: step.status };
  if (step.name !== undefined) bounded.name = toWellFormed(redactThenClip(scope, plainText(step.name), MAX_STEP_ID_CHARS));
  if (step.message !== undefined) bounded.message = redactThenClip(scope, plainText(step.message), MAX_LINE_CHARS);
  return bounded;
}

/**
 * The outcome with its error redacted and clipped and its output redacted (an output can carry a
 * secret the plugin saw); whether the output fits a frame is the runner's check (job-runner.ts).
 */
export function boundOutcome(scope: RedactionScope, outcome: JobOutcome): JobOutcome {
  const bounded: JobOutcome = { status: outcome.status };
  // Every string of the output is masked, except sensitive outputs: those travel whole for the
  // controller to seal, and are masked everywhere else (ctx.outputs.set registered them).
  if (outcome.output !== undefined) bounded.output = scope.strings(outcome.output, isSensitiveEntry);
  if (outcome.error !== undefined) {
    // The code too: a plugin chooses it, and it reaches the journal and the status page. A
    // plugin's failure may carry anything as its error: an empty code is the plugin's error.
    const error: Partial<Record<"code" | "message", unknown>> = outcome.error !== null && typeof outcome.error === "object" ? outcome.error : { message: outcome.error };
    // Well-formed too: the controller refuses a whole result whose error code holds a lone surrogate.
    const code = error.code === undefined ? "" : toWellFormed(scope.cutText(plainText(error.code)).slice(0, MAX_ERROR_CODE_CHARS));
    bounded.error = { code: code === "" ? "plugin_error" : code, message: redactThenClip(scope, plainText(error.message), MAX_ERROR_MESSAGE_CHARS) };
  }
  return bounded;
}
