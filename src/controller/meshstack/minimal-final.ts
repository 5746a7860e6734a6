// The final status in its plainest form, sent once when meshStack refused the full one with a 4xx
// that resending it unchanged cannot change (an output it does not take, a body too large): the
// run's outcome without outputs, messages, plan or log, and a short summary saying that the full
// result was refused and why. A run that succeeded is reported FAILED: without its outputs,
// building blocks that depend on them would go on with nothing.

import { SUMMARY_MAX } from "./final-status.ts";
import { keepHead } from "./short-message.ts";

/** Steps the minimal status keeps (their id and status only). */
const MAX_STEPS = 100;
const MAX_STEP_ID = 200;

export interface MinimalFinal {
  body: Record<string, unknown>;
  /** The run status it reports; undefined for an async run's hand-off (the pipeline reports the run). */
  status?: string;
  summary: string;
}

/**
 * `refused`: the final update meshStack refused; `mainStep`: the id of the run's main step, which
 * carries the summary (by default the first step, where the runner builds it; a merge with an
 * update not yet sent can put a plugin's step first).
 */
export function minimalFinal(refused: Record<string, unknown>, why: string, mainStep?: string): MinimalFinal {
  const ranAs = typeof refused.status === "string" ? refused.status : undefined;
  const status = ranAs === undefined ? undefined : "FAILED";
  const text =
    `meshStack refused the run's full result (${why}); this status leaves out its outputs and messages` +
    (ranAs === "SUCCEEDED" ? ". The run succeeded on the runner; without its outputs it is reported FAILED" : "");
  const summary = keepHead(text, SUMMARY_MAX);
  const steps: Array<Record<string, unknown>> = [];
  const given = (Array.isArray(refused.steps) ? (refused.steps as unknown[]) : []).filter(
    (raw): raw is { id: string; status?: unknown } => raw !== null && typeof raw === "object" && typeof (raw as { id?: unknown }).id === "string" && (raw as { id: string }).id !== "" && (raw as { id: string }).id.length <= MAX_STEP_ID,
  );
  const mainId = mainStep ?? given[0]?.id;
  if (mainId !== undefined) {
    const main = given.find((s) => s.id === mainId);
    steps.push({ id: mainId, status: status ?? (typeof main?.status === "string" ? main.status : "SUCCEEDED"), userMessage: summary });
  }
  for (const step of given) {
    if (steps.length >= MAX_STEPS) break;
    if (step.id !== mainId && typeof step.status === "string") steps.push({ id: step.id, status: step.status });
  }
  const body: Record<string, unknown> = status === undefined ? { steps } : { status, summary, steps };
  return status === undefined ? { body, summary } : { body, status, summary };
}
