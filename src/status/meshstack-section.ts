// The meshStack section of /status, the status page and /metrics (controllerKind meshstack):
// the last successful claim poll (what meshStack shows as the runner's liveness), claims by
// outcome, login and status-call failures, runs being worked on with their meshStack run UUID and
// workspace, recent results, and runs whose updates still wait in the outbox.

import type { ClaimOutcome, MeshstackActivitySnapshot } from "../controller/meshstack/activity.ts";
import type { Redactor } from "../log/redact.ts";
import { Registry } from "./prometheus.ts";
import type { StatusSection } from "./secrets-section.ts";
import { escapeHtml } from "./html-escape.ts";

export interface MeshstackSnapshot extends MeshstackActivitySnapshot {
  runnerUuid: string;
  lastLoginError?: { at: number; message: string };
  logins: number;
}

export interface MeshstackStatusSection {
  runnerUuid: string;
  lastClaimPollAt?: number;
  /** How long ago the last successful claim poll was; meshStack marks a runner Error after ~5 minutes. */
  lastClaimPollAgoMs?: number;
  lastClaimAt?: number;
  lastClaimError?: { at: number; message: string };
  lastLoginError?: { at: number; message: string };
  logins: number;
  claims: MeshstackActivitySnapshot["claims"];
  statusCalls: MeshstackActivitySnapshot["statusCalls"];
  running: Array<MeshstackActivitySnapshot["running"][number] & { elapsedMs: number }>;
  recent: Array<MeshstackActivitySnapshot["recent"][number] & { agoMs: number }>;
  outboxRuns: number;
  recoveredRuns: number;
  /** Outbox files found at start-up that could not be opened: their runs stay unreported. */
  outboxUnreadable: Array<{ file: string; reason: string }>;
}

const MAX_TEXT = 300;
// Types only from the adapter: an edge runner loads none of the meshStack code.
const CLAIM_OUTCOMES = ["claimed", "none", "conflict", "failed"] as const satisfies readonly ClaimOutcome[];

export function meshstackStatusSection(m: MeshstackSnapshot, now: number, redactor: Redactor): MeshstackStatusSection {
  const text = (value: string): string => {
    const t = redactor.text(value);
    return t.length <= MAX_TEXT ? t : `${t.slice(0, MAX_TEXT - 1)}…`;
  };
  const out: MeshstackStatusSection = {
    runnerUuid: m.runnerUuid,
    logins: m.logins,
    claims: { ...m.claims },
    statusCalls: { ...m.statusCalls },
    running: m.running.map((r) => ({ ...r, workspace: text(r.workspace), elapsedMs: Math.max(0, now - r.claimedAt) })),
    recent: m.recent.map((r) => ({ ...r, workspace: text(r.workspace), ...(r.message === undefined ? {} : { message: text(r.message) }), agoMs: Math.max(0, now - r.finishedAt) })),
    outboxRuns: m.outboxRuns,
    recoveredRuns: m.recoveredRuns,
    outboxUnreadable: m.unreadable.map((u) => ({ file: text(u.file), reason: text(u.reason) })),
  };
  if (m.lastClaimPollAt !== undefined) {
    out.lastClaimPollAt = m.lastClaimPollAt;
    out.lastClaimPollAgoMs = Math.max(0, now - m.lastClaimPollAt);
  }
  if (m.lastClaimAt !== undefined) out.lastClaimAt = m.lastClaimAt;
  if (m.lastClaimError !== undefined) out.lastClaimError = { at: m.lastClaimError.at, message: text(m.lastClaimError.message) };
  if (m.lastLoginError !== undefined) out.lastLoginError = { at: m.lastLoginError.at, message: text(m.lastLoginError.message) };
  return out;
}

/** Prometheus series of the meshStack adapter, appended to /metrics. */
export function meshstackMetrics(m: MeshstackSnapshot, now: number): string {
  const r = new Registry();
  const claims = r.counter({ name: "edge_runner_meshstack_claims_total", help: "Claim polls sent to meshStack, by outcome (claimed, none: 404, conflict: 409, failed).", labelNames: ["outcome"] });
  for (const outcome of CLAIM_OUTCOMES) claims.inc({ outcome }, m.claims[outcome]);
  const calls = r.counter({ name: "edge_runner_meshstack_status_calls_total", help: "Register and status calls to meshStack, by result.", labelNames: ["result"] });
  calls.inc({ result: "ok" }, m.statusCalls.ok);
  calls.inc({ result: "failed" }, m.statusCalls.failed);
  r.counter({ name: "edge_runner_meshstack_logins_total", help: "Successful logins to meshStack." }).inc({}, m.logins);
  r.gauge({ name: "edge_runner_meshstack_login_failing", help: "1 while the last login to meshStack failed." }).set({}, m.lastLoginError === undefined ? 0 : 1);
  r.gauge({ name: "edge_runner_meshstack_last_claim_poll_age_seconds", help: "Seconds since the last successful claim poll (meshStack's liveness signal); -1 before the first." })
    .set({}, m.lastClaimPollAt === undefined ? -1 : Math.max(0, now - m.lastClaimPollAt) / 1000);
  r.gauge({ name: "edge_runner_meshstack_runs_running", help: "meshStack runs being worked on." }).set({}, m.running.length);
  r.gauge({ name: "edge_runner_meshstack_outbox_runs", help: "Runs with updates not yet acknowledged by meshStack." }).set({}, m.outboxRuns);
  r.gauge({ name: "edge_runner_meshstack_outbox_unreadable", help: "Outbox files found at start-up that could not be opened (sealed with another key, or corrupt): their runs are not reported." }).set({}, m.unreadable.length);
  return r.expose();
}

/** The section the status app shows for a meshStack runner: `meshstack` in /status, a page panel, series in /metrics. */
export function meshstackSection(source: () => MeshstackSnapshot, now: () => number = Date.now): StatusSection {
  return {
    key: "meshstack",
    json: (redactor, at) => meshstackStatusSection(source(), at, redactor),
    html: (redactor, at) => renderMeshstackSection(meshstackStatusSection(source(), at, redactor)),
    metrics: () => meshstackMetrics(source(), now()),
  };
}

/** The page panel (server-rendered; every value escaped here). */
export function renderMeshstackSection(m: MeshstackStatusSection): string {
  const esc = escapeHtml;
  const ago = (ms: number | undefined): string => {
    if (ms === undefined) return "never";
    const s = Math.floor(ms / 1000);
    return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} m ago` : `${Math.floor(s / 3600)} h ago`;
  };
  const rows = (head: string[], body: string[][], empty: string): string =>
    body.length === 0
      ? `<p class="empty">${esc(empty)}</p>`
      : `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${body
          .map((r) => `<tr>${r.map((c, i) => `<td data-label="${esc(head[i] ?? "")}">${c}</td>`).join("")}</tr>`)
          .join("")}</tbody></table></div>`;
  const tone: Record<string, string> = { SUCCEEDED: "ok", FAILED: "bad", ABORTED: "idle", HANDED_OFF: "info", UNREPORTED: "bad", ALREADY_ENDED: "warn" };
  const problems = [
    m.lastLoginError === undefined ? "" : `<p class="chip t-bad">Login failing: ${esc(m.lastLoginError.message)}</p>`,
    m.lastClaimError === undefined || (m.lastClaimPollAt !== undefined && m.lastClaimPollAt > m.lastClaimError.at) ? "" : `<p class="chip t-warn">Last claim failed: ${esc(m.lastClaimError.message)}</p>`,
    ...m.outboxUnreadable.map((u) => `<p class="chip t-bad">Outbox file not resumed (its run is not reported): <span class="mono">${esc(u.file)}</span>: ${esc(u.reason)}</p>`),
  ].join("");
  return (
    `<h2>meshStack <span class="count">${m.running.length}</span></h2>` +
    `<p>Runner <span class="mono">${esc(m.runnerUuid)}</span> · last claim poll ${esc(ago(m.lastClaimPollAgoMs))} · ` +
    `claims ${esc(m.claims.claimed)} taken, ${esc(m.claims.none + m.claims.conflict)} empty, ${esc(m.claims.failed)} failed · ` +
    `${esc(m.outboxRuns)} run(s) with unsent updates</p>${problems}` +
    rows(["Run", "Workspace", "Type", "Behavior"], m.running.map((r) => [`<span class="mono">${esc(r.runUuid)}</span>`, esc(r.workspace), esc(r.type), esc(r.behavior)]), "No meshStack runs running.") +
    rows(
      ["Run", "Workspace", "Result", "Message", "Finished"],
      m.recent.map((r) => [`<span class="mono">${esc(r.runUuid)}</span>`, esc(r.workspace), `<span class="chip t-${tone[r.status] ?? "idle"}">${esc(r.status)}</span>`, esc(r.message ?? ""), esc(ago(r.agoMs))]),
      "No meshStack results yet.",
    )
  );
}
