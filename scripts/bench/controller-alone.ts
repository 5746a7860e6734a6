// The reference controller's own CPU per job, without a runner process or a disk in the way:
// `bun scripts/bench/controller-alone.ts [--fsync]` starts a ReferenceController in this process
// (embedded journal on $TMPDIR, log level warn as in section 8) and a fake runner on its session
// that answers every offer, one turn later, with accept + result + one credit in one batch frame
// (what a no-op job's runner sends at best). Concurrency 16, a backlog submitted first (untimed).
// Without --fsync the group commit's fsync is a no-op (the JS path alone); with it, fs.fsync on
// the thread pool as in production. Prints jobs/s, CPU-seconds per 1,000 jobs (this process:
// the controller and the fake runner's JSON), batches per job, and the timed window for
// scripts/bench/profile-window.ts (run under `bun --cpu-prof`). Not part of `npm run bench`:
// docs/performance.md (third round, controller) quotes it.

import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Logger } from "../../src/log/logger.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import type { EdgeSession } from "../../src/reference-controller/session.ts";

const JOBS = Number(process.env.JOBS ?? 20_000);
const WARMUP = 2_000;
const CONCURRENCY = 16;
const realFsync = process.argv.includes("--fsync");

const dir = fs.mkdtempSync(path.join(tmpdir(), "edge-runner-controller-alone-"));
const logger = new Logger({ level: "warn", sink: () => {} });
const controller = ReferenceController.create({
  dataDir: dir,
  logger,
  adminToken: "bench",
  autoSweep: false,
  commit: {
    schedule: (flush) => setImmediate(flush),
    fsync: realFsync ? (fd, done) => fs.fsync(fd, (error) => done(error)) : (_fd, done) => setImmediate(() => done(null)),
  },
});
const { apiKey } = await controller.registerRunner({ id: "bench", group: "default" });
const created = controller.sessions.create({ v: 1, runnerId: "bench", group: "default", version: "bench", transport: "websocket" }, apiKey);
const session = controller.core.sessions.get(created.sessionId) as EdgeSession;

let inbox: string[] = [];
let answering = false;
let acked = 0;
let onAcked = (): void => {};
session.attachSocket({
  send(data) {
    inbox.push(data);
    if (!answering) {
      answering = true;
      setImmediate(answer);
    }
  },
  close() {},
});

/** The fake runner: everything the controller sent this turn, answered in one frame. */
function answer(): void {
  answering = false;
  const frames = inbox;
  inbox = [];
  const out: unknown[] = [];
  for (const frame of frames) {
    const m = JSON.parse(frame) as { type: string; job?: { id: string; attempt: number } };
    if (m.type === "offer" && m.job !== undefined) {
      const now = Date.now();
      out.push({ v: 1, type: "accept", jobId: m.job.id, attempt: m.job.attempt });
      out.push({ v: 1, type: "result", jobId: m.job.id, attempt: m.job.attempt, lastSeq: 0, status: "succeeded", startedAt: now, finishedAt: now });
    } else if (m.type === "result_ack") acked++;
  }
  const results = out.length / 2;
  if (results > 0) out.push({ v: 1, type: "credit", slots: results });
  if (out.length > 0) controller.messages.handleFrame(session, JSON.stringify(out));
  onAcked();
}

try {
  for (let i = 0; i < WARMUP + JOBS; i++) controller.submitJob({ plugin: "benchclock", action: "noop", input: { n: i } });
  await controller.durable();
  const reach = (count: number) => new Promise<void>((resolve) => (onAcked = () => acked >= count && resolve()));
  const warm = reach(WARMUP);
  controller.messages.handleFrame(session, JSON.stringify({ v: 1, type: "credit", slots: CONCURRENCY }));
  await warm;
  const from = Date.now();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const flushes = controller.core.store.commits.stats.flushes;
  await reach(WARMUP + JOBS);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const jobs = acked - WARMUP;
  const perThousand = ((used.user + used.system) / 1e6 / jobs) * 1000;
  console.log(`${Math.round(jobs / seconds)} jobs/s; CPU-s per 1,000 jobs ${perThousand.toFixed(4)}; ${((controller.core.store.commits.stats.flushes - flushes) / jobs).toFixed(3)} batches per job (fsync ${realFsync ? "on the thread pool" : "none"})`);
  console.log(`timed window: --from=${from} --to=${Date.now()}`);
} finally {
  await controller.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
