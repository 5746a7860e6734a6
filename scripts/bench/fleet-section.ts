// Section 9 of `npm run bench` (issue 16 item 4): a fleet of 1, 2, 4 and 8 runner processes
// against one controller process (fleet-bench.ts), three rounds interleaving the sizes, then 100 runners' connections losing their
// controller to a SIGKILL and reconnecting (reconnect-bench.ts): three rounds with the default
// jittered backoff, one with the jitter taken out beside them; every round's histogram printed.

import { fleetThroughput, type FleetResult } from "./fleet-bench.ts";
import { reconnectAfterRestart, type ReconnectResult } from "./reconnect-bench.ts";
import type { Row } from "./report.ts";
import { median, ms, perSecond } from "./stats.ts";

export interface FleetSectionOptions {
  binary: string;
  parentDir: string;
  quick: boolean;
  say: (message: string) => void;
  /** Raw results by name, for the JSON report. */
  raw: Record<string, unknown>;
}

const SLOTS = 4;
const JOB_MS = 50;
const BUCKET_MS = 100;

export async function fleetSection(options: FleetSectionOptions): Promise<Row[]> {
  const { say, raw, quick } = options;
  const n = (full: number) => (quick ? Math.max(1, Math.round(full / 10)) : full);
  const rows: Row[] = [];
  const rounds = quick ? 1 : 3;
  const sizes = [1, 2, 4, 8];
  const fleets = new Map<number, FleetResult[]>(sizes.map((size) => [size, []]));
  // Rounds interleave the fleet sizes (1, 2, 4, 8, 1, 2, …) so each sees the machine's load.
  for (let r = 0; r < rounds; r++) {
    for (const runners of sizes) {
      say(`9 fleet, round ${r + 1}: ${runners} runner process(es) × concurrency ${SLOTS}, sleep ${JOB_MS} ms jobs, one controller process`);
      fleets.get(runners)?.push(await fleetThroughput({ binary: options.binary, parentDir: options.parentDir, runners, concurrency: SLOTS, jobMs: JOB_MS, jobs: n(100) * runners, latencyJobs: n(200) }));
    }
  }
  raw.fleet = Object.fromEntries(fleets);
  const list = (values: number[], format: (v: number) => string) => values.map(format).join(", ");
  for (const runners of sizes) {
    const results = fleets.get(runners) as FleetResult[];
    const mid = (pick: (f: FleetResult) => number) => median(results.map(pick));
    const ideal = (results[0] as FleetResult).idealPerSecond;
    const shares = results.flatMap((f) => f.perRunner.map((count) => (100 * count) / f.jobs));
    const most = Math.max(...results.map((f) => f.maxConcurrentSeen));
    const starved = results.some((f) => Math.min(...f.perRunner) === 0);
    rows.push(
      { section: "9", metric: `Fleet of ${runners}: jobs/s over a backlog of ${(results[0] as FleetResult).jobs}, per round (${list(results.map((f) => f.perSecond), (v) => v.toFixed(0))}), median (beside: ideal ${runners} × ${SLOTS} slots / ${JOB_MS} ms)`, value: `${perSecond(mid((f) => f.perSecond))} (ideal ${perSecond(ideal)}, ${((100 * mid((f) => f.perSecond)) / ideal).toFixed(0)} %)`, target: "", verdict: "info" },
      { section: "9", metric: `  share of jobs per runner over all rounds, least–most % (even: ${(100 / runners).toFixed(0)}); most running at once on one runner (credit ${SLOTS})`, value: `${Math.min(...shares).toFixed(0)}–${Math.max(...shares).toFixed(0)} %; ${most}`, target: `none starves, ≤ ${SLOTS}`, verdict: !starved && most <= SLOTS ? "ok" : "miss" },
      { section: "9", metric: `  dispatch: submit call → first line of the job's code (as in 8), at half that throughput, ${(results[0] as FleetResult).latencyJobs} jobs a round; p99 per round (${list(results.map((f) => f.dispatchP99Ms), (v) => v.toFixed(1))}); median p50 / p99`, value: `${ms(mid((f) => f.dispatchP50Ms))} / ${ms(mid((f) => f.dispatchP99Ms))}`, target: "", verdict: "info" },
    );
  }

  const jittered: ReconnectResult[] = [];
  let herd: ReconnectResult | undefined;
  for (let r = 0; r < rounds; r++) {
    for (const jitter of r === 0 ? [true, false] : [true]) {
      say(`9 reconnect, round ${r + 1}: 100 runners' connections, controller SIGKILLed and restarted (${jitter ? "default jittered backoff" : "jitter removed: the herd it prevents"})`);
      const rc = await reconnectAfterRestart({ binary: options.binary, parentDir: options.parentDir, runners: 100, jitter, bucketMs: BUCKET_MS });
      if (jitter) jittered.push(rc);
      else herd = rc;
    }
  }
  raw.reconnect = { jittered, herd };
  const first = jittered[0] as ReconnectResult;
  const mid = (pick: (rc: ReconnectResult) => number) => median(jittered.map(pick));
  rows.push({
    section: "9",
    metric: `100 runners reconnecting after a controller SIGKILL + restart, default backoff (full jitter below ${first.reconnectMinMs} ms, doubling to ${first.reconnectMaxMs / 1000} s), median of ${rounds} round(s): controller answering again → session open, p50 / p99 / max; most sessions in one ${BUCKET_MS} ms`,
    value: `${ms(mid((rc) => rc.p50Ms))} / ${ms(mid((rc) => rc.p99Ms))} / ${ms(mid((rc) => rc.maxMs))}; ${mid((rc) => rc.peakPerBucket)}`,
    target: `floor (no jitter): all 100 in one ${BUCKET_MS} ms`,
    verdict: "info",
  });
  jittered.forEach((rc, i) => rows.push(histogramRow(`round ${i + 1}`, rc)));
  if (herd !== undefined) {
    rows.push(
      { section: "9", metric: "  beside: the same without jitter (each waits its full ceiling): p50 / p99 / max; most in one bucket", value: `${ms(herd.p50Ms)} / ${ms(herd.p99Ms)} / ${ms(herd.maxMs)}; ${herd.peakPerBucket}`, target: "", verdict: "info" },
      histogramRow("without jitter", herd),
    );
  }
  return rows;
}

/** Sessions per bucket from the SIGKILL, the bucket in which the controller answered again marked with "|". */
function histogramRow(label: string, rc: ReconnectResult): Row {
  const upBucket = Math.floor(rc.downtimeMs / BUCKET_MS);
  const buckets = rc.histogram.map((count, i) => (i === upBucket ? `|${count}` : String(count))).join(" ");
  return {
    section: "9",
    metric: `  ${label}: sessions opened per ${BUCKET_MS} ms from the SIGKILL (controller answering again after ${ms(rc.downtimeMs)}, "|"); failed connect attempts`,
    value: `${buckets}; ${rc.failedAttempts}`,
    target: "",
    verdict: "info",
  };
}
