// Section 10 (issue 16): the same jobs through the reference controller on each store, side by
// side in one run: the embedded journal (one process, disk), PostgreSQL with one controller
// process, and PostgreSQL with two replicas (runners on each, jobs submitted to both). Two runner
// processes, the no-op bundle job of section 8 for jobs/s (first job started → last finished, by
// the controllers' own records) and its `first` action for dispatch: the submit call → the first
// line of the job's code, at a fixed open-loop rate, the same for every store. Beside them the
// floor of PostgreSQL itself: one INSERT + COMMIT round trip from this process.

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import postgres from "postgres";
import { clockBundle, CLOCK_PLUGIN, NOOP_JOB, wallNow } from "./clock-bundle.ts";
import { adminApi } from "./fleet-bench.ts";
import { freePort, sleep, startChild, stopChild, waitFor200 } from "./processes.ts";
import { quantile } from "./stats.ts";

/** `url`: a database of its own for this run (postgres://…, no password); `passwordFile`: its password. */
export type StoreMode = { kind: "embedded" } | { kind: "postgres"; replicas: number; url: string; passwordFile: string };

export interface StoreBenchOptions {
  binary: string;
  dir: string;
  mode: StoreMode;
  runners: number;
  concurrency: number;
  jobs: number;
  latencyJobs: number;
  /** Open-loop submit rate of the dispatch phase, the same for every store. */
  latencyPerSecond: number;
}

export interface StoreBenchResult {
  jobs: number;
  perSecond: number;
  latencyJobs: number;
  dispatchP50Ms: number;
  dispatchP99Ms: number;
}

export async function storeThroughput(options: StoreBenchOptions): Promise<StoreBenchResult> {
  const children = new Set<ChildProcess>();
  const { mode } = options;
  try {
    const token = randomBytes(24).toString("base64url");
    const tokenFile = path.join(options.dir, "admin-token");
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const keyFile = path.join(options.dir, "secrets.key");
    writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
    const replicas = mode.kind === "embedded" ? 1 : mode.replicas;
    const urls: string[] = [];
    for (let r = 0; r < replicas; r++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const store = mode.kind === "embedded" ? [] : ["--store-url", mode.url, "--store-password-file", mode.passwordFile];
      const child = startChild(options.binary, [
        "controller", "--data-dir", path.join(options.dir, `controller-${r}`), "--listen-port", String(port), "--log-level", "warn",
        "--admin-token-file", tokenFile, "--secrets-key-file", keyFile, ...store,
      ]);
      children.add(child);
      await waitFor200(`${url}/api/v1/health`, 30_000, `controller ${r}'s /api/v1/health`, 5);
      urls.push(url);
    }
    const apis = urls.map((url) => adminApi(url, token));
    const first = apis[0] as ReturnType<typeof adminApi>;
    const bundle = await clockBundle();
    await bundle.publish(urls[0] as string, token);
    for (let i = 0; i < options.runners; i++) {
      const id = `store-${i}`;
      bundle.trust(path.join(options.dir, id, "trusted-keys"));
      mkdirSync(path.join(options.dir, id), { recursive: true });
      const keyPath = path.join(options.dir, `${id}.key`);
      writeFileSync(keyPath, (await first.registerRunner(id)).apiKey, { mode: 0o600 });
      // Runner i starts on replica i mod n and lists the others after it.
      const list = urls.map((_, k) => urls[(i + k) % urls.length] as string).join(",");
      children.add(startChild(options.binary, [
        "run", "--runner-id", id, "--api-key-file", keyPath, "--controller-url", list, "--status-port", "0",
        "--start-jitter", "0", "--concurrency", String(options.concurrency), "--data-dir", path.join(options.dir, id), "--log-level", "warn",
      ]));
    }
    const deadline = performance.now() + 30_000;
    while ((await Promise.all(apis.map((api) => api.sessions()))).reduce((a, b) => a + b, 0) < options.runners) {
      if (performance.now() > deadline) throw new Error(`${options.runners} runners did not all open a session within 30 s (replicas that do not share runners?)`);
      await sleep(20);
    }
    // Every slot runs the bundle once (download, verify, worker start: not what is measured).
    const warm = (n: number) => ({ plugin: CLOCK_PLUGIN, action: "first", input: { n } });
    await waitSpread(apis, await submitSpread(apis, options.runners * options.concurrency * 2, warm), 60_000);

    // Jobs/s: a backlog submitted through every replica in turn, eight submitters.
    const noop = (n: number) => ({ ...NOOP_JOB, input: { n } });
    const backlog = await submitSpread(apis, options.jobs, noop);
    const done = await waitSpread(apis, backlog, 180_000);
    const started = Math.min(...done.map((j) => j.startedAt as number));
    const finished = Math.max(...done.map((j) => j.finishedAt as number));
    const perSecond = done.length / ((finished - started) / 1000);

    // Dispatch: one job at a time at a fixed rate, submitted through each replica in turn.
    const gapMs = 1000 / options.latencyPerSecond;
    const sent: Array<{ id: string; submitAt: number }> = [];
    let next = performance.now();
    for (let n = 0; n < options.latencyJobs; n++) {
      const api = apis[n % apis.length] as ReturnType<typeof adminApi>;
      const submitAt = wallNow();
      sent.push({ id: (await api.submit({ plugin: CLOCK_PLUGIN, action: "first", input: { n } })).id, submitAt });
      next += gapMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const measured = await waitSpread(apis, sent.map((s) => s.id), 60_000);
    const dispatch = measured.map((j, i) => (j.output as { at: number }).at - (sent[i] as { submitAt: number }).submitAt);
    return { jobs: done.length, perSecond, latencyJobs: dispatch.length, dispatchP50Ms: quantile(dispatch, 0.5), dispatchP99Ms: quantile(dispatch, 0.99) };
  } finally {
    await Promise.all([...children].map((child) => stopChild(child, children)));
  }
}

/** Eight submitters, job n through replica n mod count; ids in submission order. */
async function submitSpread(apis: ReadonlyArray<ReturnType<typeof adminApi>>, count: number, job: (n: number) => unknown): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      ids[n] = (await (apis[n % apis.length] as ReturnType<typeof adminApi>).submit(job(n))).id;
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return ids;
}

/**
 * Waits for jobs submitted by submitSpread(), each read from the replica it was submitted through:
 * another replica learns of a new job from a NOTIFY a moment later (and answers 404 until then).
 */
async function waitSpread(apis: ReadonlyArray<ReturnType<typeof adminApi>>, ids: readonly string[], timeoutMs: number): Promise<Awaited<ReturnType<ReturnType<typeof adminApi>["waitAll"]>>> {
  const parts = await Promise.all(apis.map((api, r) => api.waitAll(ids.filter((_, n) => n % apis.length === r), timeoutMs)));
  const out = new Array(ids.length);
  parts.forEach((part, r) => part.forEach((job, k) => (out[r + k * apis.length] = job)));
  return out;
}

/** The database's own floor: one single-row INSERT + COMMIT from this process, p50 / p99 of `samples`. */
export async function postgresCommitFloor(url: string, password: string, samples: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const sql = postgres(url, { password, max: 1, onnotice: () => {} });
  try {
    await sql`CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, at double precision NOT NULL)`;
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await sql.begin((tx) => tx`INSERT INTO bench_floor (at) VALUES (${t0})`);
      times.push(performance.now() - t0);
    }
    return { p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99) };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
