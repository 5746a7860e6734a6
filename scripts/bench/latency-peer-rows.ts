// The rows of section 8's latency beside BullMQ (latency-peer-bench.ts): each round's ratios,
// their medians against issue 15's goals, and what each figure is made of.

import type { LatencyRound } from "./latency-peer-bench.ts";
import type { Row } from "./report.ts";
import { median, ms } from "./stats.ts";

export function latencyRows(rounds: readonly LatencyRound[]): Row[] {
  const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(", ");
  const mid = (pick: (r: LatencyRound) => number) => median(rounds.map(pick));
  const p50Ratios = rounds.map((r) => r.edge.firstLine.p50Ms / r.bull.firstLine.p50Ms);
  const p99Ratios = rounds.map((r) => r.edge.firstLine.p99Ms / r.bull.firstLine.p99Ms);
  const samples = rounds[0]?.edge.firstLine.samples ?? 0;
  return [
    {
      section: "8",
      metric: `Submit call → first line of the job's code, one job at a time, ${samples} jobs a side per round, median of ${rounds.length} rounds' p50 / p99: edge-runner (controller + runner processes, disk) vs BullMQ (redis-server appendfsync always + worker process)`,
      value: `${ms(mid((r) => r.edge.firstLine.p50Ms))} / ${ms(mid((r) => r.edge.firstLine.p99Ms))} vs ${ms(mid((r) => r.bull.firstLine.p50Ms))} / ${ms(mid((r) => r.bull.firstLine.p99Ms))}`,
      target: `floor: one append + fsync on this disk, p50 sampled between the jobs, median of rounds ${ms(mid((r) => r.fsync.p50Ms))} (both pay at least one before the job starts)`,
      verdict: "info",
    },
    { section: "8", metric: `  ratio edge-runner / BullMQ, p50, per round (${list(p50Ratios)}), median`, value: `${median(p50Ratios).toFixed(2)}×`, target: "≤ 0.5×", verdict: median(p50Ratios) <= 0.5 ? "ok" : "miss" },
    { section: "8", metric: `  ratio edge-runner / BullMQ, p99, per round (${list(p99Ratios)}), median`, value: `${median(p99Ratios).toFixed(2)}×`, target: "≤ 0.6×", verdict: median(p99Ratios) <= 0.6 ? "ok" : "miss" },
    {
      section: "8",
      metric: "  beside: submit call → answered (job durable), p50, median of rounds: edge-runner (HTTP, fsync) vs BullMQ (`queue.add()`, fsync)",
      value: `${ms(mid((r) => r.edge.submitCall.p50Ms))} vs ${ms(mid((r) => r.bull.submitCall.p50Ms))}`,
      target: `floor: GET /api/v1/health ${ms(mid((r) => r.httpRoundTrip.p50Ms))} vs Redis PING ${ms(mid((r) => r.redisPing.p50Ms))}`,
      verdict: "info",
    },
    {
      section: "8",
      metric: "  beside: the same POST of a job no runner takes (a group nobody serves), p50, median of rounds: the submit call without the dispatch that overlaps its answer",
      value: ms(mid((r) => r.submitUntaken.p50Ms)),
      target: "",
      verdict: "info",
    },
  ];
}
