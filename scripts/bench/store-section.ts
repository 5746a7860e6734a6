// Section 10 of `npm run bench` (issue 16): jobs/s and dispatch p50/p99 through the embedded
// journal and through PostgreSQL with one and two controller processes (store-bench.ts), rounds
// interleaving the three so each sees the machine's load, and the database's own commit round
// trip beside them. A PostgreSQL server is started for it in a temporary directory (Debian's
// postgresql package, as the tests use) and removed after.

import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { errorMessage } from "../../src/errors.ts";
import { startPostgres, stopWhenProcessExits } from "../../test/helpers/postgres-server.ts";
import type { Row } from "./report.ts";
import { median, ms, perSecond } from "./stats.ts";
import { postgresCommitFloor, storeThroughput, type StoreBenchResult, type StoreMode } from "./store-bench.ts";

export interface StoreSectionOptions {
  binary: string;
  parentDir: string;
  quick: boolean;
  say: (message: string) => void;
  raw: Record<string, unknown>;
}

const RUNNERS = 2;
const SLOTS = 16;
const LATENCY_RATE = 20;

export async function storeSection(options: StoreSectionOptions): Promise<Row[]> {
  const { say, quick } = options;
  const n = (full: number) => (quick ? Math.max(1, Math.round(full / 10)) : full);
  const rounds = quick ? 1 : 3;
  const db = await startPostgres();
  // Stopped even when the bench is interrupted (Ctrl-C) before its finally.
  stopWhenProcessExits(db);
  const configs: Array<{ label: string; mode: (round: number) => StoreMode }> = [
    { label: "embedded journal (disk), 1 controller", mode: () => ({ kind: "embedded" }) },
    { label: "PostgreSQL, 1 controller", mode: (r) => ({ kind: "postgres", replicas: 1, url: db.createDatabase(`bench_one_${r}`), passwordFile: db.passwordFile }) },
    { label: "PostgreSQL, 2 replicas", mode: (r) => ({ kind: "postgres", replicas: 2, url: db.createDatabase(`bench_two_${r}`), passwordFile: db.passwordFile }) },
  ];
  const results = new Map<string, StoreBenchResult[]>(configs.map((c) => [c.label, []]));
  const failures = new Map<string, string>();
  let floor: { p50Ms: number; p99Ms: number } | undefined;
  try {
    floor = await postgresCommitFloor(db.createDatabase("bench_floor"), db.password, n(500));
    for (let r = 0; r < rounds; r++) {
      for (const config of configs) {
        if (failures.has(config.label)) continue;
        say(`10 store, round ${r + 1}: ${config.label}, ${RUNNERS} runner processes × concurrency ${SLOTS}`);
        const dir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-store-"));
        try {
          results.get(config.label)?.push(await storeThroughput({ binary: options.binary, dir, mode: config.mode(r), runners: RUNNERS, concurrency: SLOTS, jobs: n(2000), latencyJobs: n(200), latencyPerSecond: LATENCY_RATE }));
        } catch (error) {
          failures.set(config.label, errorMessage(error).slice(0, 200));
          say(`10 store: ${config.label} not measured: ${errorMessage(error)}`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    db.destroy();
  }
  options.raw.store = { results: Object.fromEntries(results), failures: Object.fromEntries(failures), floor };
  const rows: Row[] = [];
  const list = (values: number[], digits = 0) => values.map((v) => v.toFixed(digits)).join(", ");
  for (const config of configs) {
    const got = results.get(config.label) as StoreBenchResult[];
    const failed = failures.get(config.label);
    if (got.length === 0) {
      rows.push({ section: "10", metric: `${config.label}: not measured`, value: "—", target: "", verdict: "miss" });
      if (failed !== undefined) rows.push({ section: "10", metric: `  why: ${failed}`, value: "", target: "", verdict: "info" });
      continue;
    }
    const mid = (pick: (x: StoreBenchResult) => number) => median(got.map(pick));
    rows.push(
      { section: "10", metric: `${config.label}: no-op jobs/s over a backlog of ${(got[0] as StoreBenchResult).jobs}, per round (${list(got.map((x) => x.perSecond))}), median`, value: perSecond(mid((x) => x.perSecond)), target: "", verdict: "info" },
      { section: "10", metric: `  dispatch: submit call → first line of the job's code at ${LATENCY_RATE}/s, ${(got[0] as StoreBenchResult).latencyJobs} jobs a round; p99 per round (${list(got.map((x) => x.dispatchP99Ms), 1)}); median p50 / p99`, value: `${ms(mid((x) => x.dispatchP50Ms))} / ${ms(mid((x) => x.dispatchP99Ms))}`, target: "", verdict: "info" },
    );
    if (failed !== undefined) rows.push({ section: "10", metric: `  a later round failed: ${failed}`, value: "", target: "", verdict: "miss" });
  }
  if (floor !== undefined) rows.push({ section: "10", metric: `  floor: one INSERT + COMMIT on the same PostgreSQL from the bench process, p50 / p99 of ${n(500)}`, value: `${ms(floor.p50Ms)} / ${ms(floor.p99Ms)}`, target: "", verdict: "info" });
  return rows;
}
