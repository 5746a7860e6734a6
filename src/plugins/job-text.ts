// The one place a plugin's text is made fit to leave the runner: redacted with the job's scope
// first, then clipped to the protocol's limits (src/protocol/limits.ts). In this order a cut can
// never split a secret and let half of it through. The pool calls these on every log line, step
// and outcome before anything else sees them.

import type { RedactionScope } from "../log/redact.ts";
import { isSensitiveEntry } from "../secrets/sensitive-outputs.ts";
import type { JobOutcome, LogLine, StepUpdate } from "../protocol/edge-v1.ts";
import { MAX_ERROR_CODE_CHARS, MAX_ERROR_MESSAGE_CHARS, MAX_LINE_CHARS } from "../protocol/limits.ts";

/** Step ids and names are labels; the protocol's frame check allows 256 characters for an id. */
const MAX_STEP_ID_CHARS = 200;

/** Redacts, then cuts to `max` characters with a note saying how much was cut. */
export function redactThenClip(scope: RedactionScope, text: string, max: number): string {
  const clean = scope.text(text);
  return clean.length <= max ? clean : `${clean.slice(0, max)}… (${clean.length - max} more characters cut)`;
}

/** A log line: redacted as the next line of the job's stream (a secret split over two lines is masked too), then clipped. */
export function boundLine(scope: RedactionScope, line: LogLine): LogLine {
  const clean = scope.line(typeof line.msg === "string" ? line.msg : String(line.msg));
  return { ts: line.ts, level: line.level, msg: clean.length <= MAX_LINE_CHARS ? clean : `${clean.slice(0, MAX_LINE_CHARS)}… (${clean.length - MAX_LINE_CHARS} more characters cut)` };
}

/** A step: its id and name are redacted too (they reach the logs API and the journal like the message). */
export function boundStep(scope: RedactionScope, step: StepUpdate): StepUpdate {
  const bounded: StepUpdate = { ...step, id: redactThenClip(scope, String(step.id), MAX_STEP_ID_CHARS) };
  if (step.name !== undefined) bounded.name = redactThenClip(scope, String(step.name), MAX_STEP_ID_CHARS);
  if (step.message !== undefined) bounded.message = redactThenClip(scope, String(step.message), MAX_LINE_CHARS);
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
    // The code too: a plugin chooses it, and it reaches the journal and the status page.
    bounded.error = { code: scope.text(String(outcome.error.code)).slice(0, MAX_ERROR_CODE_CHARS), message: redactThenClip(scope, String(outcome.error.message), MAX_ERROR_MESSAGE_CHARS) };
  }
  return bounded;
}
