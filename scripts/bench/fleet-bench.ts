// Section 9, a runner fleet against one controller (issue 16 item 4). The compiled
// `edge-runner controller` and N compiled `edge-runner run` processes in one group; jobs are
// echo `sleep` jobs so each runner's slots, not the CPU, bound what it can take, and the ideal
// (runners × concurrency / job length) is the figure beside each throughput. Throughput, share
// and overlap come from the controller's own job records (runnerId, startedAt, finishedAt);
// dispatch latency is section 8's: this process's clock just before the submit call → the
// clock read on the first line of the job's code (clock-bundle.ts), sub-millisecond.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { clockBundle, CLOCK_PLUGIN, wallNow } from "./clock-bundle.ts";
import { freePort, sleep, startChild, stopChild, waitFor200 } from "./processes.ts";
import { quantile } from "./stats.ts";

export interface FleetOptions {
  binary: string;
  parentDir: string;
  runners: number;
  /** Slots of each runner (its credit). */
  concurrency: number;
  /** How long each job sleeps in the echo plugin. */
  jobMs: number;
  /** Backlog jobs for the throughput phase. */
  jobs: number;
  /** Jobs of the latency phase, submitted at half the measured throughput (open loop). */
  latencyJobs: number;
}

export interface FleetResult {
  runners: number;
  concurrency: number;
  jobs: number;
  perSecond: number;
  idealPerSecond: number;
  /** Jobs each runner ran in the throughput phase. */
  perRunner: number[];
  /** Most jobs any one runner had running at once (started → finished intervals), and its credit. */
  maxConcurrentSeen: number;
  /** Submit call → first line of the job's code, at half the measured throughput (open loop), over `latencyJobs` jobs. */
  latencyJobs: number;
  dispatchP50Ms: number;
  dispatchP99Ms: number;
}

interface Job {
  id: string;
  status: string;
  runnerId?: string;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  output?: unknown;
  error?: unknown;
}

export async function fleetThroughput(options: FleetOptions): Promise<FleetResult> {
  const dir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-fleet-"));
  const children = new Set<ChildProcess>();
  try {
    const { url, token } = await startController(options.binary, dir, children);
    const api = adminApi(url, token);
    const bundle = await clockBundle();
    await bundle.publish(url, token);
    for (let i = 0; i < options.runners; i++) {
      const id = `fleet-${i}`;
      bundle.trust(path.join(dir, id, "trusted-keys"));
      const keyFile = path.join(dir, `${id}.key`);
      writeFileSync(keyFile, (await api.registerRunner(id)).apiKey, { mode: 0o600 });
      const runner = startChild(options.binary, [
        "run", "--runner-id", id, "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0",
        "--start-jitter", "0", "--concurrency", String(options.concurrency), "--data-dir", path.join(dir, id), "--log-level", "warn",
      ]);
      children.add(runner);
    }
    await api.waitSessions(options.runners, 30_000);

    // Throughput: a backlog, measured from the first job started to the last finished.
    const backlog = await api.submitMany(options.jobs, (n) => ({ plugin: "echo", action: "sleep", input: { ms: options.jobMs, n } }));
    const done = await api.waitAll(backlog, 120_000);
    const first = Math.min(...done.map((j) => j.startedAt as number));
    const last = Math.max(...done.map((j) => j.finishedAt as number));
    const perSecond = done.length / ((last - first) / 1000);
    const perRunner = Array.from({ length: options.runners }, (_, i) => done.filter((j) => j.runnerId === `fleet-${i}`).length);
    const maxConcurrentSeen = Math.max(...perRunner.map((_, i) => maxOverlap(done.filter((j) => j.runnerId === `fleet-${i}`))));

    // Dispatch latency at half the throughput just measured: jobs arrive while runners have
    // free slots, so the figure is dispatch, not time in a queue. First every slot of every
    // runner runs the clock bundle once (download, verify, worker start: not dispatch).
    const clockJob = (n: number) => ({ plugin: CLOCK_PLUGIN, action: "sleep", input: { ms: options.jobMs, n } });
    await api.waitAll(await api.submitMany(options.runners * options.concurrency, clockJob), 60_000);
    const idealPerSecond = (options.runners * options.concurrency * 1000) / options.jobMs;
    const gapMs = 1000 / (perSecond / 2);
    const sent: Array<{ id: string; submitAt: number }> = [];
    let next = performance.now();
    for (let n = 0; n < options.latencyJobs; n++) {
      const submitAt = wallNow();
      sent.push({ id: (await api.submit(clockJob(n))).id, submitAt });
      next += gapMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const measured = await api.waitAll(sent.map((s) => s.id), 60_000);
    const dispatch = measured.map((j, i) => (j.output as { at: number }).at - (sent[i] as { submitAt: number }).submitAt);
    return {
      runners: options.runners,
      concurrency: options.concurrency,
      jobs: done.length,
      perSecond,
      idealPerSecond,
      perRunner,
      maxConcurrentSeen,
      latencyJobs: dispatch.length,
      dispatchP50Ms: quantile(dispatch, 0.5),
      dispatchP99Ms: quantile(dispatch, 0.99),
    };
  } finally {
    await Promise.all([...children].map((child) => stopChild(child, children)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Most intervals [startedAt, finishedAt) open at one instant. */
export function maxOverlap(jobs: ReadonlyArray<{ startedAt?: number; finishedAt?: number }>): number {
  const edges = jobs.flatMap((j) => [[j.startedAt as number, 1], [j.finishedAt as number, -1]] as Array<[number, number]>);
  // At one millisecond an end comes before a start: the slot was free again.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, delta] of edges) max = Math.max(max, (open += delta));
  return max;
}

export async function startController(binary: string, dir: string, children: Set<ChildProcess>, port?: number): Promise<{ url: string; token: string; child: ChildProcess }> {
  const listenPort = port ?? (await freePort());
  const url = `http://127.0.0.1:${listenPort}`;
  const child = startChild(binary, ["controller", "--data-dir", dir, "--listen-port", String(listenPort), "--log-level", "warn"]);
  children.add(child);
  await waitFor200(`${url}/api/v1/health`, 20_000, "the controller's /api/v1/health", 5);
  const token = readFileSync(path.join(dir, "controller", "admin-token"), "utf8").trim();
  return { url, token, child };
}

export function adminApi(url: string, token: string) {
  const call = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`Cannot ${method} ${route} in the fleet bench: HTTP ${response.status} ${text.slice(0, 200)}`);
    return JSON.parse(text);
  };
  const api = {
    registerRunner: (id: string) => call("POST", "/runners", { id, group: "default" }) as Promise<{ apiKey: string }>,
    submit: (job: unknown) => call("POST", "/jobs", job) as Promise<Job>,
    getJob: (id: string) => call("GET", `/jobs/${id}`) as Promise<Job>,
    /** Long-polls until the job is terminal (or the timeout passes). */
    wait: (id: string, timeoutMs: number) => call("GET", `/jobs/${id}/wait?timeoutMs=${timeoutMs}`) as Promise<Job>,
    sessions: async () => ((await call("GET", "/health")) as { sessions: number }).sessions,
    async waitSessions(count: number, timeoutMs: number): Promise<void> {
      const deadline = performance.now() + timeoutMs;
      while ((await api.sessions()) < count) {
        if (performance.now() > deadline) throw new Error(`Cannot run the fleet bench: ${count} runners did not connect within ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    /** Eight submitters in parallel; ids in submission order. */
    async submitMany(count: number, job: (n: number) => unknown): Promise<string[]> {
      const ids: string[] = new Array(count);
      let next = 0;
      const lane = async () => {
        while (next < count) {
          const n = next++;
          ids[n] = (await api.submit(job(n))).id;
        }
      };
      await Promise.all(Array.from({ length: 8 }, lane));
      return ids;
    },
    /** Polls until every job is terminal; each must have succeeded. */
    async waitAll(ids: string[], timeoutMs: number): Promise<Job[]> {
      const deadline = performance.now() + timeoutMs;
      const done = new Map<string, Job>();
      for (;;) {
        const pending = ids.filter((id) => !done.has(id));
        for (let i = 0; i < pending.length; i += 32) {
          const batch = await Promise.all(pending.slice(i, i + 32).map((id) => api.getJob(id)));
          for (const job of batch) {
            if (job.status === "succeeded") done.set(job.id, job);
            else if (["failed", "cancelled", "timed_out"].includes(job.status)) throw new Error(`Cannot trust the fleet bench: job ${job.id} ended ${job.status}`);
          }
        }
        if (done.size === ids.length) return ids.map((id) => done.get(id) as Job);
        if (performance.now() > deadline) throw new Error(`Cannot run the fleet bench: ${ids.length - done.size} job(s) not finished within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
  return api;
}
