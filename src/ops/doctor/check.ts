// What a doctor check is, and the runner that runs them in order: a check whose prerequisites
// did not pass is skipped, a check that throws fails, and every printed word goes through the
// redactor so no secret reaches the terminal.

import type { Config } from "../../config/resolve.ts";
import { errorMessage } from "../../errors.ts";
import { redactor } from "../../log/redact.ts";

/** `warn`: works, but something optional is missing or unwise; it never fails the doctor. */
export type CheckStatus = "pass" | "warn" | "fail" | "skip";

export interface CheckResult {
  status: CheckStatus;
  summary: string;
  /** What to do about a failure or a warning: a command or an edit. */
  fix?: string;
  notes?: string[];
}

/** Facts a check learns that later checks use (the resolved config, the API key, the CA). */
export interface DoctorState {
  config?: Config;
  configSource?: string;
  apiKey?: string;
  caPem?: string;
}

export interface DoctorContext {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
  /** The user running the doctor (the runner's user); undefined where POSIX ids do not exist. */
  uid: number | undefined;
  /** Bound of each network step. */
  timeoutMs: number;
  state: DoctorState;
}

export interface DoctorCheck {
  readonly id: string;
  readonly title: string;
  /** Ids of checks that must pass first; otherwise this one is skipped. */
  readonly needs: readonly string[];
  run(ctx: DoctorContext): Promise<CheckResult>;
}

export interface CheckReport extends CheckResult {
  id: string;
  title: string;
}

export async function runDoctor(checks: readonly DoctorCheck[], ctx: DoctorContext): Promise<CheckReport[]> {
  const reports: CheckReport[] = [];
  // A check that failed, or was skipped because its own prerequisite failed, blocks its dependents;
  // one skipped as not applicable (TLS on a loopback http URL) does not.
  const blocked = new Set<string>();
  for (const check of checks) {
    const blocking = check.needs.map((id) => reports.find((r) => r.id === id)).find((r) => r !== undefined && (r.status === "fail" || blocked.has(r.id)));
    let result: CheckResult;
    if (blocking !== undefined) {
      blocked.add(check.id);
      result = { status: "skip", summary: `needs "${blocking.title}" to pass first` };
    } else {
      try {
        result = await check.run(ctx);
      } catch (error) {
        result = { status: "fail", summary: `the check itself failed: ${errorMessage(error)}`, fix: "report this as a bug with the output above" };
      }
    }
    reports.push(redactReport({ id: check.id, title: check.title, ...result }));
  }
  return reports;
}

export function passed(reports: readonly CheckReport[]): boolean {
  return reports.every((r) => r.status !== "fail");
}

export function formatReport(reports: readonly CheckReport[]): string {
  const width = Math.max(...reports.map((r) => r.title.length));
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.status.toUpperCase().padEnd(4)}  ${r.title.padEnd(width)}  ${r.summary}`);
    for (const note of r.notes ?? []) lines.push(`${" ".repeat(width + 8)}${note}`);
    if (r.fix !== undefined && (r.status === "fail" || r.status === "warn")) lines.push(`${" ".repeat(width + 8)}fix: ${r.fix}`);
  }
  const failed = reports.filter((r) => r.status === "fail").length;
  const warned = reports.filter((r) => r.status === "warn").length;
  const warnings = warned === 0 ? "" : ` (${warned} warning${warned === 1 ? "" : "s"})`;
  lines.push("", failed === 0 ? `All checks passed${warnings}.` : `${failed} of ${reports.length} checks failed${warnings}.`);
  return lines.join("\n") + "\n";
}

function redactReport(report: CheckReport): CheckReport {
  return redactor.value(report) as CheckReport;
}
