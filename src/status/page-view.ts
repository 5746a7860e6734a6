// The status page's sections as HTML strings, rendered from a StatusDocument. The function is
// self-contained on purpose: page.ts sends its source (Function.prototype.toString) to the
// browser, which re-renders with this same code every 2 s. It must not reference anything
// outside its own body, except the default of `dur`: the browser always passes formatDuration's
// own source (self-contained too), so the default is evaluated on the server only.

import type { StatusDocument } from "./document.ts";
import { formatDuration } from "./format.ts";

export interface PageSections {
  title: string;
  /** Overall tone for the favicon and the badge: ok, warn, bad. */
  tone: "ok" | "warn" | "bad";
  header: string;
  summary: string;
  running: string;
  recent: string;
  workers: string;
  footer: string;
}

export function renderSections(doc: StatusDocument, dur: (ms: number) => string = formatDuration): PageSections {
  const esc = (value: unknown): string =>
    String(value).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);
  const bytes = (n: number | undefined): string => {
    if (n === undefined) return "–";
    if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
    if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
    return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
  };
  const clock = (ms: number, seconds = true): string => `${new Date(ms).toISOString().slice(0, seconds ? 19 : 16).replace("T", " ")} UTC`;
  const chip = (tone: string, text: string): string => `<span class="chip t-${tone}">${esc(text)}</span>`;
  const table = (head: string[], rows: string[][], empty: string, numeric: number[]): string => {
    if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
    const cls = (i: number): string => (numeric.includes(i) ? ' class="num"' : "");
    const th = head.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join("");
    // data-label lets the phone layout show each cell as "label value" without the header row.
    const tr = rows.map((r) => `<tr>${r.map((cell, i) => `<td${cls(i)} data-label="${esc(head[i] ?? "")}">${cell}</td>`).join("")}</tr>`).join("");
    return `<div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table></div>`;
  };
  const panel = (title: string, count: number, body: string): string =>
    `<h2>${esc(title)} <span class="count">${count}</span></h2>${body}`;

  const c = doc.connection;
  // A runner that never reached its controller is not "disconnected since" the last retry: it says
  // how long it has been trying. The clock of an outage starts when the session was lost.
  const connection: Record<string, [string, string, string]> = {
    connected: ["ok", "Connected", doc.state === "draining" ? "Session open; reporting results while draining" : "Taking jobs from the controller"],
    connecting: ["warn", c.neverConnected ? "Never connected" : "Disconnected", "Opening a session with the controller"],
    backoff: ["bad", c.neverConnected ? "Never connected" : "Disconnected", "Waiting before the next attempt"],
    unauthorized: ["bad", "Unauthorized", "The controller refused the API key: check --api-key-file and the runner's registration"],
    idle: ["warn", "Not connected", "The connection has not started yet"],
    closed: ["bad", "Closed", "The connection was shut down"],
  };
  const [connTone, connLabel, connHint] = connection[c.state] ?? ["bad", c.state, ""];
  const readyChip: Record<string, [string, string, string]> = {
    busy: ["info", "Busy", "Every slot runs a job; the next job starts when one finishes"],
    draining: ["warn", "Draining", "Finishing running jobs; taking no new ones"],
    unauthorized: ["bad", "Unauthorized", "Takes no jobs until the controller accepts its API key"],
    never_connected: ["bad", "Not connected", "Never reached the controller"],
    disconnected: ["bad", "Not connected", "Lost the controller; reconnecting"],
    starting: ["warn", "Starting", "Not taking jobs yet"],
    stopped: ["idle", "Stopped", "Not taking jobs"],
    failed: ["bad", "Failed", "The runner stopped on an error"],
  };
  const [readyTone, readyLabel, readyHint] = doc.ready ? ["ok", "Ready", "Accepting new jobs"] : (readyChip[doc.readyKind ?? ""] ?? ["warn", "Not ready", ""]);
  // Busy is a healthy runner at work: only the controller and readiness problems change the tone.
  const tone: "ok" | "warn" | "bad" =
    connTone === "ok" && (doc.ready || doc.readyKind === "busy") ? "ok" : connTone === "bad" || doc.state === "failed" || readyTone === "bad" ? "bad" : "warn";
  const busy = doc.concurrency - Math.max(0, doc.freeSlots);
  const pct = doc.concurrency > 0 ? Math.min(100, Math.round((busy / doc.concurrency) * 100)) : 0;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

  // "controller 2 of 3 · 1 failover" beside the URL when the runner has a list of them.
  const r = doc.controllers;
  const replicas = r === undefined ? "" : `<span>controller ${esc(r.index + 1)} of ${esc(r.count)}${r.failovers === 0 ? "" : ` · ${plural(r.failovers, "failover")}`}</span>`;
  const header =
    `<div class="brand"><span class="dot t-${tone}"></span>edge-runner</div>` +
    `<h1>${esc(doc.runnerId)}</h1>` +
    `<div class="meta"><span>group <b>${esc(doc.group)}</b></span><span>v${esc(doc.version)} <span class="mono">${esc(doc.commit)}</span></span>` +
    `<span>${esc(doc.runtime)} · pid ${esc(doc.pid)}</span><span class="mono">${esc(doc.controllerUrl)}</span>${replicas}</div>`;

  const since =
    c.state === "connected"
      ? `since ${dur(c.sinceMs)}${c.transport === undefined ? "" : ` · ${c.transport}`}`
      : c.neverConnected
        ? `trying for ${dur(c.downMs ?? c.sinceMs)}`
        : `for ${dur(c.downMs ?? c.sinceMs)}`;
  const counts = [
    c.reconnects > 0 ? plural(c.reconnects, "reconnect") : "",
    c.failedAttempts > 0 && c.state !== "connected" ? plural(c.failedAttempts, "failed attempt") : "",
    c.protocolErrors > 0 ? plural(c.protocolErrors, "protocol error") : "",
  ].filter((t) => t !== "");
  const summary =
    `<div class="card wide conn t-${connTone}"><div class="label">Controller</div>` +
    `<div class="badge"><span class="dot t-${connTone}"></span>${esc(connLabel)}</div>` +
    `<div class="since">${esc(since)}</div>` +
    `<div class="hint">${esc([connHint, ...counts].join(" · "))}</div>` +
    (c.lastError !== undefined && c.state !== "connected" ? `<div class="err">last error: ${esc(c.lastError)}</div>` : "") +
    `</div>` +
    `<div class="card wide"><div class="label">Readiness</div>` +
    `<div class="big">${chip(readyTone, readyLabel)}</div>` +
    `<div class="hint">${esc(readyHint)}</div>` +
    `<div class="hint">state <b>${esc(doc.state)}</b> for ${esc(dur(doc.now - doc.stateSince))}</div></div>` +
    `<div class="card"><div class="label">Slots</div><div class="big">${esc(busy)}<span class="of"> / ${esc(doc.concurrency)} busy</span></div>` +
    `<div class="bar"><span class="fill t-${pct >= 100 ? "info" : "ok"} w${Math.round(pct / 5) * 5}"></span></div>` +
    `<div class="hint">${esc(doc.running.length)} running · ${doc.held.length > 0 ? `${esc(doc.held.length)} held · ` : ""}${esc(Math.max(0, doc.freeSlots))} free</div>` +
    (doc.prefetchOff === undefined ? "" : `<div class="hint" title="${esc(doc.prefetchOff)}">prefetch off: the controller predates release</div>`) +
    `</div>` +
    `<div class="card"><div class="label">Uptime</div><div class="big">${esc(dur(doc.uptimeMs))}</div>` +
    `<div class="hint">since ${esc(clock(doc.startedAt, false))}</div></div>`;

  const running = panel(
    "Running jobs",
    doc.running.length,
    table(
      ["Job", "Plugin", "Action", "Attempt", "Elapsed"],
      doc.running.map((j) => [
        `<span class="mono">${esc(j.jobId)}</span>`,
        esc(j.plugin),
        esc(j.action),
        j.attempt > 1 ? chip("warn", `#${j.attempt}`) : esc(`#${j.attempt}`),
        esc(dur(j.elapsedMs)),
      ]),
      "No jobs running.",
      [3, 4],
    ),
  );

  const statusTone: Record<string, string> = { succeeded: "ok", failed: "bad", timed_out: "bad", cancelled: "idle", interrupted: "warn" };
  const recent = panel(
    "Recent results",
    doc.recent.length,
    table(
      ["Job", "Plugin", "Result", "Duration", "Error", "Finished"],
      doc.recent.map((r) => [
        `<span class="mono">${esc(r.jobId)}</span>${r.attempt > 1 ? ` <span class="muted">#${esc(r.attempt)}</span>` : ""}`,
        esc(r.plugin),
        chip(statusTone[r.status] ?? "idle", r.status.replace("_", " ")),
        esc(dur(r.durationMs)),
        r.errorCode === undefined
          ? `<span class="muted">–</span>`
          : `<div class="errcell"${r.errorMessage === undefined ? "" : ` title="${esc(r.errorMessage)}"`}><span class="mono">${esc(r.errorCode)}</span>` +
            `${r.errorMessage === undefined ? "" : `<span class="msg">${esc(r.errorMessage)}</span>`}</div>`,
        `${esc(dur(r.agoMs))} ago`,
      ]),
      "No results yet.",
      [3, 5],
    ),
  );

  const workerTone: Record<string, string> = { busy: "info", idle: "ok", starting: "warn", stopping: "idle" };
  const workers = panel(
    "Plugin workers",
    doc.workers.length,
    table(
      ["Plugin", "State", "Jobs", "Memory", "Up"],
      doc.workers.map((w) => [
        `${esc(w.plugin)} <span class="muted">#${esc(w.id)}</span>`,
        chip(workerTone[w.state] ?? "idle", w.state),
        esc(w.jobsServed),
        esc(bytes(w.memoryBytes)),
        esc(dur(w.upMs)),
      ]),
      "No plugin workers running.",
      [2, 3, 4],
    ),
  );

  const loops = doc.loops.map((l) => `${esc(l.name)} ticked ${esc(dur(l.lastTickSecondsAgo * 1000))} ago`).join(" · ");
  const footer = `<span>${loops === "" ? "no loops reported" : loops}</span><span>updated ${esc(clock(doc.now))}</span>`;
  const title = `${tone === "ok" ? "●" : tone === "warn" ? "◐" : "○"} ${doc.runnerId} · ${connLabel} · edge-runner`;
  return { title, tone, header, summary, running, recent, workers, footer };
}

