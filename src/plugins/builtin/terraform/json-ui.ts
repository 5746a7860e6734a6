// Terraform's (and OpenTofu's) machine-readable UI: one JSON message per line with `-json`
// (https://developer.hashicorp.com/terraform/internals/machine-readable-ui). Resources being
// applied become steps, diagnostics and messages become log lines, the change summary is kept.
// Lines come from a program the job runs: only string (or number) fields are taken, levels are
// looked up in a Map, and a message is cut after parsing, so no line can throw or flood a log.

import type { LogLevel, StepUpdate } from "../../sdk.ts";
import { objectOf } from "../../../util/json-answer.ts";
import { apiText } from "../api-values.ts";
import { cutNoteFirst } from "../quoted-value.ts";

export interface UiEvent {
  log?: { level: LogLevel; msg: string };
  step?: StepUpdate;
  changes?: { add: number; change: number; remove: number };
}

/**
 * The longest `-json` line read whole (terraform prints a diagnostic's whole detail on one line;
 * the general 16 KiB line cut would break it into raw pieces and lose the error).
 */
export const UI_LINE_MAX = 1024 * 1024;
/** The longest message a UI line becomes (a log line, a step message); the rest is cut, saying how long it was. */
export const UI_MESSAGE_MAX = 16 * 1024;

// A Map: "@level": "toString" must not find Object.prototype's member.
const LEVELS: ReadonlyMap<string, LogLevel> = new Map([["trace", "debug"], ["debug", "debug"], ["info", "info"], ["warn", "warn"], ["error", "error"]]);

/** One line of `terraform <cmd> -json`; a line that is not a UI message is logged as it is. */
export function parseUiLine(line: string): UiEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { log: { level: "info", msg: cut(line) } };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { log: { level: "info", msg: cut(line) } };
  const m = parsed as Record<string, unknown>;
  const msg = cut(apiText(m["@message"], UI_LINE_MAX) ?? line);
  const level = LEVELS.get(apiText(m["@level"], 16) ?? "") ?? "info";
  const hook = objectOf(m.hook);
  const addr = apiText(objectOf(hook.resource).addr, 200);
  switch (m.type) {
    case "apply_start":
      return addr === undefined ? { log: { level, msg } } : { log: { level, msg }, step: { id: `resource:${addr}`, name: addr, status: "running", message: apiText(hook.action, 100) ?? "" } };
    case "apply_complete":
      return addr === undefined ? { log: { level, msg } } : { log: { level, msg }, step: { id: `resource:${addr}`, name: addr, status: "succeeded" } };
    case "apply_errored":
      return addr === undefined ? { log: { level: "error", msg } } : { log: { level: "error", msg }, step: { id: `resource:${addr}`, name: addr, status: "failed", message: msg } };
    case "diagnostic": {
      const d = objectOf(m.diagnostic);
      const severity: LogLevel = d.severity === "error" ? "error" : "warn";
      const detail = apiText(d.detail, UI_LINE_MAX);
      return { log: { level: severity, msg: cut(`${apiText(d.summary, UI_LINE_MAX) ?? msg}${detail === undefined || detail === "" ? "" : `: ${detail}`}`) } };
    }
    case "change_summary": {
      const c = objectOf(m.changes);
      return { log: { level, msg }, changes: { add: count(c.add), change: count(c.change), remove: count(c.remove) } };
    }
    default:
      return { log: { level, msg } };
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/**
 * A message cut to UI_MESSAGE_MAX, saying how long it was (also for a line logged as it is), the
 * note first (quoted-value.ts): after the kept part, a secret's first part showed.
 */
export function cut(message: string): string {
  return cutNoteFirst(message, UI_MESSAGE_MAX);
}
