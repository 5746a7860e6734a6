// Terraform's (and OpenTofu's) machine-readable UI: one JSON message per line with `-json`
// (https://developer.hashicorp.com/terraform/internals/machine-readable-ui). Resources being
// applied become steps, diagnostics and messages become log lines, the change summary is kept.

import type { LogLevel, StepUpdate } from "../../sdk.ts";

export interface UiEvent {
  log?: { level: LogLevel; msg: string };
  step?: StepUpdate;
  changes?: { add: number; change: number; remove: number };
}

interface UiMessage {
  "@level"?: string;
  "@message"?: string;
  type?: string;
  hook?: { resource?: { addr?: string }; action?: string };
  diagnostic?: { severity?: string; summary?: string; detail?: string };
  changes?: { add?: number; change?: number; remove?: number };
}

const LEVELS: Record<string, LogLevel> = { trace: "debug", debug: "debug", info: "info", warn: "warn", error: "error" };

/** One line of `terraform <cmd> -json`; a line that is not a UI message is logged as it is. */
export function parseUiLine(line: string): UiEvent {
  let m: UiMessage;
  try {
    m = JSON.parse(line) as UiMessage;
  } catch {
    return { log: { level: "info", msg: line } };
  }
  if (m === null || typeof m !== "object") return { log: { level: "info", msg: line } };
  const msg = typeof m["@message"] === "string" ? m["@message"] : line;
  const level = LEVELS[String(m["@level"])] ?? "info";
  const addr = typeof m.hook?.resource?.addr === "string" ? m.hook.resource.addr.slice(0, 200) : undefined;
  switch (m.type) {
    case "apply_start":
      return addr === undefined ? { log: { level, msg } } : { log: { level, msg }, step: { id: `resource:${addr}`, name: addr, status: "running", message: String(m.hook?.action ?? "") } };
    case "apply_complete":
      return addr === undefined ? { log: { level, msg } } : { log: { level, msg }, step: { id: `resource:${addr}`, name: addr, status: "succeeded" } };
    case "apply_errored":
      return addr === undefined ? { log: { level: "error", msg } } : { log: { level: "error", msg }, step: { id: `resource:${addr}`, name: addr, status: "failed", message: msg } };
    case "diagnostic": {
      const d = m.diagnostic ?? {};
      const severity: LogLevel = d.severity === "error" ? "error" : "warn";
      const detail = typeof d.detail === "string" && d.detail !== "" ? `: ${d.detail}` : "";
      return { log: { level: severity, msg: `${d.summary ?? msg}${detail}` } };
    }
    case "change_summary": {
      const c = m.changes ?? {};
      return { log: { level, msg }, changes: { add: Number(c.add ?? 0), change: Number(c.change ?? 0), remove: Number(c.remove ?? 0) } };
    }
    default:
      return { log: { level, msg } };
  }
}
