// The status page's "Secret backends" section, its /status key and its /metrics series: each
// backend's health (configured, last success, last error) and resolutions by backend and outcome.
// Shown from the runner's state; a backend that is down never makes /healthz fail.

import type { Redactor } from "../log/redact.ts";
import type { BackendHealth, ResolveOutcome } from "../secrets/references/secret-backends.ts";
import { escapeHtml } from "./html-escape.ts";

/** One extra part of the status endpoint, contributed by a part of the runner. */
export interface StatusSection {
  /** Key in /status. */
  key: string;
  json(redactor: Redactor, now: number): unknown;
  html(redactor: Redactor, now: number): string;
  /** Prometheus text lines (HELP, TYPE, samples), ending in a newline. */
  metrics(): string;
}

export interface SecretsSource {
  health(): BackendHealth[];
  counts(): Array<{ backend: string; outcome: ResolveOutcome; count: number }>;
}

const esc = escapeHtml;
const ago = (at: number | undefined, now: number): string => (at === undefined ? "never" : `${Math.max(0, Math.round((now - at) / 1000))} s ago`);

export function secretsSection(source: SecretsSource): StatusSection {
  const rows = (redactor: Redactor) =>
    source.health().map((h) => ({
      backend: h.backend,
      configured: h.configured,
      ...(h.lastSuccessAt === undefined ? {} : { lastSuccessAt: h.lastSuccessAt }),
      ...(h.lastErrorAt === undefined ? {} : { lastErrorAt: h.lastErrorAt }),
      ...(h.lastError === undefined ? {} : { lastError: { code: h.lastError.code, message: redactor.text(h.lastError.message).slice(0, 300) } }),
    }));
  return {
    key: "secretBackends",
    json: (redactor) => rows(redactor),
    html(redactor, now) {
      const body = rows(redactor)
        .filter((r) => r.configured || r.lastErrorAt !== undefined || r.lastSuccessAt !== undefined)
        .map((r) => {
          const failing = r.lastErrorAt !== undefined && (r.lastSuccessAt === undefined || r.lastErrorAt > r.lastSuccessAt);
          const state = !r.configured ? "not configured" : failing ? "failing" : r.lastSuccessAt === undefined ? "not used yet" : "ok";
          const error = r.lastError === undefined ? "" : `${esc(r.lastError.code)}: ${esc(r.lastError.message)}`;
          return `<tr><td>${esc(r.backend)}</td><td data-label="State">${state}</td><td data-label="Last success">${ago(r.lastSuccessAt, now)}</td><td data-label="Last error">${ago(r.lastErrorAt, now)}</td><td data-label="Error"><span class="errcell">${error}</span></td></tr>`;
        })
        .join("");
      return `<h2>Secret backends</h2>${body === "" ? `<p class="muted">No secret backend used yet.</p>` : `<table><thead><tr><th>Backend</th><th>State</th><th>Last success</th><th>Last error</th><th>Error</th></tr></thead><tbody>${body}</tbody></table>`}`;
    },
    metrics() {
      const lines = [
        "# HELP edge_runner_secret_resolutions_total Secret references resolved for jobs, by backend and outcome.",
        "# TYPE edge_runner_secret_resolutions_total counter",
        ...source.counts().sort((a, b) => `${a.backend}${a.outcome}`.localeCompare(`${b.backend}${b.outcome}`)).map((c) => `edge_runner_secret_resolutions_total{backend="${c.backend}",outcome="${c.outcome}"} ${c.count}`),
        "# HELP edge_runner_secret_backend_last_success_timestamp_seconds When a backend last answered (0: never).",
        "# TYPE edge_runner_secret_backend_last_success_timestamp_seconds gauge",
        ...source.health().filter((h) => h.configured).map((h) => `edge_runner_secret_backend_last_success_timestamp_seconds{backend="${h.backend}"} ${Math.floor((h.lastSuccessAt ?? 0) / 1000)}`),
        "# HELP edge_runner_secret_backend_last_error_timestamp_seconds When a backend last failed (0: never).",
        "# TYPE edge_runner_secret_backend_last_error_timestamp_seconds gauge",
        ...source.health().filter((h) => h.configured).map((h) => `edge_runner_secret_backend_last_error_timestamp_seconds{backend="${h.backend}"} ${Math.floor((h.lastErrorAt ?? 0) / 1000)}`),
      ];
      return lines.join("\n") + "\n";
    },
  };
}
