// The one place a plugin's text is made fit to leave the runner: redacted with the job's scope
// first, then clipped to the protocol's limits (src/protocol/limits.ts). In this order a cut can
// never split a secret and let half of it through. The pool calls these on every log line, step
// and outcome before anything else sees them.

import type { RedactionScope } from "../log/redact.ts";
import type { JobOutcome, LogLine, StepUpdate } from "../protocol/edge-v1.ts";
import { MAX_ERROR_CODE_CHARS, MAX_ERROR_MESSAGE_CHARS, MAX_LINE_CHARS } from "../protocol/limits.ts";

/** Redacts, then cuts to `max` characters with a note saying how much was cut. */
export function redactThenClip(scope: RedactionScope, text: string, max: number): string {
  const clean = scope.text(text);
  return clean.length <= max ? clean : `${clean.slice(0, max)}… (${clean.length - max} more characters cut)`;
}

export function boundLine(scope: RedactionScope, line: LogLine): LogLine {
  return { ts: line.ts, level: line.level, msg: redactThenClip(scope, typeof line.msg === "string" ? line.msg : String(line.msg), MAX_LINE_CHARS) };
}

export function boundStep(scope: RedactionScope, step: StepUpdate): StepUpdate {
  if (step.message === undefined) return step;
  return { ...step, message: redactThenClip(scope, String(step.message), MAX_LINE_CHARS) };
}

/**
 * The outcome with its error redacted and clipped and its output redacted (an output can carry a
 * secret the plugin saw); whether the output fits a frame is the runner's check (job-runner.ts).
 */
export function boundOutcome(scope: RedactionScope, outcome: JobOutcome): JobOutcome {
  const bounded: JobOutcome = { status: outcome.status };
  if (outcome.output !== undefined) bounded.output = scope.value(outcome.output);
  if (outcome.error !== undefined) {
    bounded.error = { code: String(outcome.error.code).slice(0, MAX_ERROR_CODE_CHARS), message: redactThenClip(scope, String(outcome.error.message), MAX_ERROR_MESSAGE_CHARS) };
  }
  return bounded;
}
