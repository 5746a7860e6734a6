// The count at the end of every chaos run: every job the controller acknowledged must end
// terminal exactly once. Lost (acknowledged, then unknown), stuck (not terminal once the stream
// settled), duplicated (run again after it had finished), with the attempts and executions
// histograms; written to the chaos report in full runs.

import * as fs from "node:fs";
import type { Cluster, JobJson } from "./cluster.ts";
import { FULL, REPORT } from "./settings.ts";
import type { Sink } from "./sink.ts";

export interface Census {
  name: string;
  kills: number;
  jobs: number;
  statuses: Record<string, number>;
  failures: Record<string, number>;
  attempts: Record<string, number>;
  executions: Record<string, number>;
  lost: number;
  stuck: number;
  duplicated: number;
  /** Jobs whose side effect ran more than once (a re-run after a kill is at-least-once, not a loss). */
  reExecuted: number;
  extra?: Record<string, unknown>;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** Waits until every acknowledged job is terminal (or `settleMs` passed), then counts. */
export async function takeCensus(options: {
  name: string;
  /** Where each job's state is read (one controller, or any live replica). */
  cluster: Pick<Cluster, "job">;
  sink: Sink;
  /** job id → the nonce its input carries */
  acked: Map<string, string>;
  kills: number;
  settleMs: number;
  extra?: Record<string, unknown>;
}): Promise<Census> {
  const { cluster, sink, acked } = options;
  const final = new Map<string, JobJson | undefined>();
  const deadline = Date.now() + options.settleMs;
  let pending = [...acked.keys()];
  while (pending.length > 0) {
    const next: string[] = [];
    for (const id of pending) {
      const job = await cluster.job(id).catch(() => undefined);
      final.set(id, job);
      if (job !== undefined && !TERMINAL.has(job.status)) next.push(id);
    }
    pending = next;
    if (pending.length === 0 || Date.now() > deadline) break;
    await Bun.sleep(250);
  }
  const census: Census = {
    name: options.name, kills: options.kills, jobs: acked.size,
    statuses: {}, failures: {}, attempts: {}, executions: {}, lost: 0, stuck: 0, duplicated: 0, reExecuted: 0,
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  };
  const bump = (record: Record<string, number>, key: string | number) => (record[String(key)] = (record[String(key)] ?? 0) + 1);
  for (const [id, nonce] of acked) {
    const job = final.get(id);
    const runs = sink.executions.get(nonce) ?? [];
    bump(census.executions, runs.length);
    if (runs.length > 1) census.reExecuted++;
    if (job === undefined) {
      census.lost++;
      continue;
    }
    bump(census.statuses, job.status);
    bump(census.attempts, job.attempt);
    if (job.status === "failed" && job.error !== undefined) bump(census.failures, job.error.code);
    if (!TERMINAL.has(job.status)) census.stuck++;
    // Ran again after it had finished: the same job done twice, not at-least-once.
    if (job.finishedAt !== undefined && runs.some((run) => run.at > (job.finishedAt as number) + 5)) census.duplicated++;
  }
  report(census);
  return census;
}

function report(census: Census): void {
  const line = `${census.name}: kills ${census.kills}, jobs ${census.jobs}, lost ${census.lost}, duplicated ${census.duplicated}, stuck ${census.stuck}, ` +
    `re-executed ${census.reExecuted}, statuses ${JSON.stringify(census.statuses)}, attempts ${JSON.stringify(census.attempts)}, executions ${JSON.stringify(census.executions)}` +
    (Object.keys(census.failures).length > 0 ? `, failures ${JSON.stringify(census.failures)}` : "") +
    (census.extra === undefined ? "" : `, ${JSON.stringify(census.extra)}`);
  console.log(`census ${line}`);
  if (FULL || process.env.CHAOS_REPORT !== undefined) fs.appendFileSync(REPORT, `- ${line}\n`);
}

/** Appends a free-form line to the report (fuzz figures, full-disk results). */
export function reportLine(text: string): void {
  console.log(`chaos ${text}`);
  if (FULL || process.env.CHAOS_REPORT !== undefined) fs.appendFileSync(REPORT, `- ${text}\n`);
}
