// The status page's "Job storage" section, its /status key and its /metrics series: the backend
// and where it writes (a directory or s3://bucket/prefix, never a credential), bytes written and
// read, objects alive, cleanup failures and retries, pending and done sweeps.

import type { Redactor } from "../log/redact.ts";
import type { StorageStatsSnapshot } from "../storage/storage-stats.ts";
import type { StatusSection } from "./secrets-section.ts";
import { escapeHtml } from "./html-escape.ts";

const esc = escapeHtml;
const ago = (at: number | undefined, now: number): string => (at === undefined ? "never" : `${Math.max(0, Math.round((now - at) / 1000))} s ago`);

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function storageSection(source: { snapshot(): StorageStatsSnapshot }): StatusSection {
  const view = (redactor: Redactor) => {
    const s = source.snapshot();
    return { ...s, location: redactor.text(s.location), ...(s.lastError === undefined ? {} : { lastError: redactor.text(s.lastError).slice(0, 300) }) };
  };
  return {
    key: "storage",
    json: (redactor) => view(redactor),
    html(redactor, now) {
      const s = view(redactor);
      const failing = s.cleanupsRetrying > 0 || s.cleanupFailures > 0;
      const rows: Array<[string, string]> = [
        ["Backend", `${esc(s.backend)} <span class="muted">${esc(s.location)}</span>`],
        ["Written / read", `${bytes(s.bytesWritten)} / ${bytes(s.bytesRead)}`],
        ["Objects alive", String(s.objectsAlive)],
        ["Cleanup failures", `${s.cleanupFailures}${s.cleanupsRetrying > 0 ? ` (${s.cleanupsRetrying} retrying)` : ""}`],
        ["Orphans waiting for their grace", String(s.pendingSweeps)],
        ["Orphans swept", `${s.sweptAttempts} <span class="muted">last sweep ${ago(s.lastSweepAt, now)}</span>`],
      ];
      if (s.lastError !== undefined) rows.push(["Last error", `<span class="errcell">${esc(s.lastError)}</span>`]);
      const body = rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join("");
      return `<h2>Job storage${failing ? ` <span class="muted">(cleanup failures: see below)</span>` : ""}</h2><table><tbody>${body}</tbody></table>`;
    },
    metrics() {
      const s = source.snapshot();
      const label = `{backend="${s.backend}"}`;
      const series: Array<[string, "counter" | "gauge", string, number]> = [
        ["edge_runner_storage_written_bytes_total", "counter", "Bytes jobs wrote to intermediate storage.", s.bytesWritten],
        ["edge_runner_storage_read_bytes_total", "counter", "Bytes jobs read from intermediate storage.", s.bytesRead],
        ["edge_runner_storage_objects_alive", "gauge", "Objects of running or still-cleaning job attempts.", s.objectsAlive],
        ["edge_runner_storage_cleanup_failures_total", "counter", "Failed deletions of a job attempt's objects (each retry counts).", s.cleanupFailures],
        ["edge_runner_storage_cleanups_retrying", "gauge", "Job attempts whose deletion is being retried.", s.cleanupsRetrying],
        ["edge_runner_storage_pending_sweeps", "gauge", "Orphaned job attempts of this runner waiting for the sweep grace period.", s.pendingSweeps],
        ["edge_runner_storage_swept_attempts_total", "counter", "Orphaned job attempts the sweeper deleted.", s.sweptAttempts],
      ];
      return series.map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${label} ${value}\n`).join("");
    },
  };
}
