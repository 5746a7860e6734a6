import { expect, test } from "bun:test";
import { RunnerMetrics, JOB_OUTCOMES, CONNECTION_STATES } from "../../src/status/metrics.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { help?: string; type?: string; samples: Sample[] }

/** A strict line-by-line reader of text format 0.0.4: fails on anything it does not understand. */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { samples: [] };
      if (kind === "HELP") family.help = rest;
      else {
        expect(["counter", "gauge", "histogram"]).toContain(rest);
        family.type = rest;
      }
      families.set(name, family);
      current = name;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (sample === null) throw new Error(`Unparsable exposition line: ${JSON.stringify(line)}`);
    const [, name, , labelText, value] = sample as unknown as [string, string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (const m of (labelText ?? "").matchAll(labelRe)) {
      labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
      consumed += m[0].length;
    }
    expect(consumed).toBe((labelText ?? "").length);
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const owner = families.has(name) ? name : base;
    expect(current).toBe(owner);
    const family = families.get(owner);
    expect(family?.help).toBeDefined();
    expect(family?.type).toBeDefined();
    family?.samples.push({ name, labels, value: value === "+Inf" ? Infinity : Number(value) });
  }
  return families;
}

const metrics = () => new RunnerMetrics({ residentMemoryBytes: () => 123_456_789, processStartMs: NOW - 3_600_500 });

test("RunnerMetrics.expose() writes every series with HELP and TYPE", () => {
  const held = [{ jobId: "job-2", attempt: 1, plugin: "http", action: "request", heldSince: NOW - 3 }];
  const families = parseExposition(metrics().expose(snapshotFixture({ prefetch: 16, held })));
  expect([...families.keys()].sort()).toEqual([
    "edge_runner_connect_failures_total", "edge_runner_connection_state", "edge_runner_info", "edge_runner_insecure", "edge_runner_job_duration_seconds", "edge_runner_jobs_held", "edge_runner_jobs_running",
    "edge_runner_jobs_total", "edge_runner_log_lines_dropped_total", "edge_runner_plugin_bundle_refusals_total", "edge_runner_plugin_workers", "edge_runner_protocol_errors_total", "edge_runner_reconnects_total",
    "edge_runner_up", "process_resident_memory_bytes", "process_start_time_seconds",
  ]);
  const value = (name: string, labels: Record<string, string> = {}) =>
    families.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  expect(value("edge_runner_up")).toBe(1);
  expect(value("edge_runner_insecure")).toBe(0);
  expect(value("edge_runner_info", { version: "1.2.3", commit: "abc123def456", runtime: "bun" })).toBe(1);
  expect(value("edge_runner_jobs_running")).toBe(1);
  expect(value("edge_runner_jobs_held")).toBe(1);
  expect(value("process_resident_memory_bytes")).toBe(123_456_789);
  expect(value("process_start_time_seconds")).toBe(Math.floor((NOW - 3_600_500) / 1000));
  expect(value("edge_runner_plugin_workers", { plugin: "http", state: "busy" })).toBe(1);
  expect(value("edge_runner_plugin_workers", { plugin: "http", state: "idle" })).toBe(0);
  expect(value("edge_runner_log_lines_dropped_total")).toBe(0);
});

test("RunnerMetrics.expose() sets 1 for the current connection state and 0 for the others", () => {
  const snapshot = snapshotFixture();
  snapshot.connection = { ...snapshot.connection, state: "backoff" };
  const samples = parseExposition(metrics().expose(snapshot)).get("edge_runner_connection_state")?.samples ?? [];
  expect(samples.map((s) => s.labels.state)).toEqual([...CONNECTION_STATES]);
  expect(samples.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(["backoff"]);
});

test("RunnerMetrics.jobFinished() counts by result and fills cumulative duration buckets", () => {
  const m = metrics();
  m.jobFinished("succeeded", 0.5);
  m.jobFinished("succeeded", 250);
  m.jobFinished("failed", 7_200_000);
  m.jobRejected();
  m.reconnected();
  m.connectFailed();
  m.connectFailed();
  m.connectFailed();
  m.protocolError();
  m.protocolError();
  const families = parseExposition(m.expose(snapshotFixture()));
  const jobs = families.get("edge_runner_jobs_total")?.samples ?? [];
  expect(jobs.map((s) => s.labels.result)).toEqual([...JOB_OUTCOMES]);
  expect(Object.fromEntries(jobs.map((s) => [s.labels.result, s.value]))).toEqual({
    succeeded: 2, failed: 1, cancelled: 0, timed_out: 0, interrupted: 0, rejected: 1,
  });
  expect(families.get("edge_runner_reconnects_total")?.samples[0]?.value).toBe(1);
  expect(families.get("edge_runner_connect_failures_total")?.samples[0]?.value).toBe(3);
  expect(families.get("edge_runner_protocol_errors_total")?.samples[0]?.value).toBe(2);

  const samples = families.get("edge_runner_job_duration_seconds")?.samples ?? [];
  const buckets = samples.filter((s) => s.name.endsWith("_bucket"));
  const bounds = buckets.map((s) => (s.labels.le === "+Inf" ? Infinity : Number(s.labels.le)));
  expect(bounds[0]).toBe(0.001);
  expect(bounds.at(-2)).toBe(3600);
  expect(bounds.at(-1)).toBe(Infinity);
  for (let i = 1; i < buckets.length; i++) {
    expect(bounds[i] as number).toBeGreaterThan(bounds[i - 1] as number);
    expect((buckets[i] as Sample).value).toBeGreaterThanOrEqual((buckets[i - 1] as Sample).value);
  }
  expect(buckets.find((s) => s.labels.le === "0.001")?.value).toBe(1);
  expect(buckets.find((s) => s.labels.le === "0.5")?.value).toBe(2);
  expect(buckets.find((s) => s.labels.le === "3600")?.value).toBe(2);
  expect(buckets.at(-1)?.value).toBe(3);
  expect(samples.find((s) => s.name.endsWith("_count"))?.value).toBe(3);
  expect(samples.find((s) => s.name.endsWith("_sum"))?.value).toBeCloseTo(7200.2505, 6);
});

test("RunnerMetrics.jobFinished() refuses an unknown result", () => {
  expect(() => metrics().jobFinished("rejected" as never, 1)).toThrow('Cannot record job result "rejected"');
});

test("RunnerMetrics.expose() escapes label values from the snapshot", () => {
  const snapshot = snapshotFixture({ version: 'v"1\\\n', workers: [] });
  const text = metrics().expose(snapshot);
  expect(text).toContain('edge_runner_info{version="v\\"1\\\\\\n",');
  const info = parseExposition(text).get("edge_runner_info")?.samples[0];
  expect(info?.labels.version).toBe('v"1\\\n');
});

test("RunnerMetrics.expose() drops worker series of plugins that no longer run", () => {
  const m = metrics();
  m.expose(snapshotFixture());
  expect(m.expose(snapshotFixture({ workers: [] }))).not.toContain('plugin="http"');
});

test("RunnerMetrics.logLinesDropped() adds the lines a job's outbox dropped", () => {
  const m = metrics();
  m.logLinesDropped(500);
  m.logLinesDropped(7);
  expect(m.expose(snapshotFixture({})).split("\n")).toContain("edge_runner_log_lines_dropped_total 507");
});
