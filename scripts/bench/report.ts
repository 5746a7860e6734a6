// The bench's report: the machine it ran on, and one table of measurements with their targets,
// rendered as Markdown (pasted into docs/performance.md) and as plain text for the terminal.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

export type Verdict = "ok" | "miss" | "problem" | "info";

export interface Row {
  section: string;
  metric: string;
  value: string;
  target: string;
  verdict: Verdict;
}

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memory: string;
  bun: string;
  node: string;
  kernel: string;
}

export function machine(): Machine {
  const cpuinfo = safe(() => readFileSync("/proc/cpuinfo", "utf8"), "");
  const meminfo = safe(() => readFileSync("/proc/meminfo", "utf8"), "");
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? Number.NaN);
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memory: Number.isFinite(memKb) ? `${(memKb / 1024 / 1024).toFixed(1)} GiB` : "unknown",
    bun: (globalThis as { Bun?: { version: string } }).Bun?.version ?? "not bun",
    node: safe(() => execFileSync("node", ["--version"], { encoding: "utf8" }).trim(), "not installed"),
    kernel: safe(() => readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), "unknown"),
  };
}

/** Lower-is-better or higher-is-better against a target and a "design problem" line. */
export function judge(value: number, target: number, problem: number, higherIsBetter: boolean): Verdict {
  if (!Number.isFinite(value)) return "problem";
  const better = (a: number, b: number) => (higherIsBetter ? a >= b : a <= b);
  if (better(value, target)) return "ok";
  return better(value, problem) ? "miss" : "problem";
}

const MARK: Record<Verdict, string> = { ok: "meets target", miss: "misses target", problem: "DESIGN PROBLEM", info: "" };

export function markdown(m: Machine, rows: readonly Row[], command: string): string {
  const lines = [
    `Command: \`${command}\`  `,
    `Date: ${m.date}  `,
    `Machine: ${m.nproc} CPUs (nproc), ${m.cpu}, ${m.memory} RAM, Linux ${m.kernel}; Bun ${m.bun}, Node ${m.node}`,
    "",
    "| # | Measurement | Result | Target | Verdict |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.section} | ${r.metric} | ${r.value} | ${r.target} | ${MARK[r.verdict]} |`),
  ];
  return lines.join("\n") + "\n";
}

export function text(rows: readonly Row[]): string {
  const head: Row = { section: "#", metric: "Measurement", value: "Result", target: "Target", verdict: "info" };
  const all = [head, ...rows];
  const w = (pick: (r: Row) => string) => Math.max(...all.map((r) => pick(r).length));
  const ws = [w((r) => r.section), w((r) => r.metric), w((r) => r.value), w((r) => r.target)];
  return all
    .map((r, i) => `${r.section.padEnd(ws[0] ?? 0)}  ${r.metric.padEnd(ws[1] ?? 0)}  ${r.value.padStart(ws[2] ?? 0)}  ${r.target.padEnd(ws[3] ?? 0)}  ${i === 0 ? "Verdict" : MARK[r.verdict]}`)
    .join("\n");
}

function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
