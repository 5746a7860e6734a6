// Latency A/B of two builds: section 8's edge-runner side (submit call → first line of the job's
// code, one job at a time, controller + runner processes, journal on disk) for build A and build
// B, interleaved job by job (the order swapped every job) so a loaded machine moves both alike.
// Each round's p50 and p99 give that round's ratios B / A; the medians are the result. Not a
// test; figures for docs/performance.md (Latency beside BullMQ).
//
//   bun scripts/bench/latency-ab.ts A_BINARY B_BINARY [--rounds=10] [--samples=300] [--warmup=100]

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startEdgeLatencyStack, type Sample } from "./latency-peer-bench.ts";
import { stopChild } from "./processes.ts";
import { median, summarize } from "./stats.ts";

const [binaryA, binaryB] = process.argv.slice(2, 4);
if (binaryA === undefined || binaryB === undefined || binaryA.startsWith("--") || binaryB.startsWith("--")) {
  throw new Error("Cannot run the latency A/B: give the two executables' paths first (A, then B)");
}
const flag = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const rounds = flag("rounds", 10);
const samples = flag("samples", 300);
const warmup = flag("warmup", 100);

const children = new Set<ChildProcess>();
const dirs = [mkdtempSync(path.join(tmpdir(), "edge-runner-latency-a-")), mkdtempSync(path.join(tmpdir(), "edge-runner-latency-b-"))];
try {
  const a = await startEdgeLatencyStack(binaryA, dirs[0] as string, children, 16);
  const b = await startEdgeLatencyStack(binaryB, dirs[1] as string, children, 16);
  for (let i = 0; i < warmup; i++) {
    await a.job();
    await b.job();
  }
  const p50: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const sa: Sample[] = [];
    const sb: Sample[] = [];
    for (let i = 0; i < samples; i++) {
      if (i % 2 === 0) {
        sa.push(await a.job());
        sb.push(await b.job());
      } else {
        sb.push(await b.job());
        sa.push(await a.job());
      }
    }
    const [fa, fb] = [summarize(sa.map((s) => s.firstLineMs)), summarize(sb.map((s) => s.firstLineMs))];
    const [ca, cb] = [summarize(sa.map((s) => s.submitCallMs)), summarize(sb.map((s) => s.submitCallMs))];
    p50.push(fb.p50Ms / fa.p50Ms);
    p99.push(fb.p99Ms / fa.p99Ms);
    console.log(`round ${r + 1}: first line p50 A ${fa.p50Ms.toFixed(3)} B ${fb.p50Ms.toFixed(3)} ms, p99 A ${fa.p99Ms.toFixed(2)} B ${fb.p99Ms.toFixed(2)} ms; submit answered p50 A ${ca.p50Ms.toFixed(3)} B ${cb.p50Ms.toFixed(3)} ms`);
  }
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
  console.log(`B / A, submit → first line: p50 per round ${list(p50)}, median ${median(p50).toFixed(2)}; p99 per round ${list(p99)}, median ${median(p99).toFixed(2)}`);
} finally {
  await Promise.all([...children].map((child) => stopChild(child, children)));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
