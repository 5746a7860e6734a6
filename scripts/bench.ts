// `npm run bench`: measures dispatch latency, jobs per second, the process-per-job baseline and
// the compiled executable's start-up and footprint on this machine; prints a table and writes a
// Markdown report (docs/performance.md explains the numbers). Not a test: nothing depends on it.
// Flags: --quick (fewer samples), --binary=PATH (skip the build), --report=FILE, --skip-binary,
// --only=1,2,4,8,9,10 (only those sections; 8 is BullMQ throughput and latency, 8l the latency alone).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { binaryFootprint } from "./bench/binary-bench.ts";
import { freshProcessBaseline } from "./bench/fresh-process-bench.ts";
import { probeFsync } from "./bench/fsync-probe.ts";
import { fullPathLatency, fullPathThroughput, type FullThroughput } from "./bench/full-path-bench.ts";
import { poolLatency, poolThroughput } from "./bench/pool-bench.ts";
import { judge, machine, markdown, text, type Row } from "./bench/report.ts";
import { secretsBench } from "./bench/secrets-bench.ts";
import { splitProcessThroughput } from "./bench/split-process-bench.ts";
import { ensureNodePackages } from "./bench/node-packages.ts";
import { NOOP_JOB } from "./bench/clock-bundle.ts";
import { startRedis } from "./bench/redis-process.ts";
import { buildHelloWorlds } from "./bench/hello-world.ts";
import { median, mib, ms, perSecond } from "./bench/stats.ts";
import { meshstackBench } from "./bench/meshstack-bench.ts";
import { shellBench } from "./bench/shell-bench.ts";
import { fleetSection } from "./bench/fleet-section.ts";
import { storeSection } from "./bench/store-section.ts";
import { latencyRows } from "./bench/latency-peer-rows.ts";
import { DEFAULT_PREFETCH } from "./bench/full-path.ts";

const root = new URL("..", import.meta.url).pathname;
const flags = new Map(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, "").split("=");
  return [k as string, v ?? "true"] as const;
}));
const known = new Set(["quick", "binary", "report", "skip-binary", "only"]);
for (const key of flags.keys()) if (!known.has(key)) throw new Error(`Cannot run the bench: unknown flag "--${key}" (known: --quick, --binary=PATH, --report=FILE, --skip-binary, --only=1,2,…)`);
const only = flags.get("only")?.split(",");
const want = (section: string) => only === undefined || only.includes(section);
const quick = flags.has("quick");
const n = (full: number) => (quick ? Math.max(1, Math.round(full / 10)) : full);
const diskDir = tmpdir();
const tmpfsDir = existsSync("/dev/shm") ? "/dev/shm" : undefined;
const reportFile = flags.get("report") ?? path.join(tmpdir(), "edge-runner-bench.md");
const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const began = performance.now();

// ---- 1. warm dispatch latency ----
let poolLat: Awaited<ReturnType<typeof poolLatency>> | undefined;
if (want("1")) {
  say("1a pool latency");
  poolLat = await poolLatency({ warmup: 200, samples: n(2000) });
  raw.poolLatency = poolLat;
  rows.push(
    { section: "1a", metric: "Warm dispatch, pool: run() → first onLog, p50", value: ms(poolLat.firstLog.p50Ms), target: "≤ 1 ms (problem > 2 ms)", verdict: judge(poolLat.firstLog.p50Ms, 1, 2, false) },
    { section: "1a", metric: `Warm dispatch, pool: p99 (${poolLat.firstLog.samples} samples)`, value: ms(poolLat.firstLog.p99Ms), target: "", verdict: "info" },
  );

  say("1b full-path latency (in-process controller, WebSocket, fsync'd store on disk)");
  const fullLat = await fullPathLatency({ parentDir: diskDir, warmup: 100, samples: n(2000) });
  raw.fullLatency = fullLat;
  rows.push(
    { section: "1b", metric: "Warm dispatch, full path: submitJob() → first log line in runner, p50", value: ms(fullLat.firstLog.p50Ms), target: "≤ 1 ms (problem > 2 ms)", verdict: judge(fullLat.firstLog.p50Ms, 1, 2, false) },
    { section: "1b", metric: `Warm dispatch, full path: p99 (${fullLat.firstLog.samples} samples)`, value: ms(fullLat.firstLog.p99Ms), target: "", verdict: "info" },
    { section: "1b", metric: "  p50 legs: submitJob() call (2 fsyncs) / offer → executor / executor → first log", value: `${ms(fullLat.legs.submitCallMs)} / ${ms(fullLat.legs.deliveryMs)} / ${ms(fullLat.legs.poolMs)}`, target: "", verdict: "info" },
    { section: "1b", metric: "  submitJob() → job terminal at the controller, p50 / p99", value: `${ms(fullLat.complete.p50Ms)} / ${ms(fullLat.complete.p99Ms)}`, target: "", verdict: "info" },
  );
}

// ---- 2. jobs per second ----
if (want("2")) {
  const fsync = probeFsync(diskDir);
  raw.fsync = fsync;
  rows.push({ section: "2", metric: `Disk (${diskDir}): append + fsync / open + append + fsync + close, median`, value: `${ms(fsync.appendFsyncMs)} / ${ms(fsync.openAppendFsyncCloseMs)}`, target: "", verdict: "info" });
  for (const concurrency of [4, 16]) {
    say(`2a pool throughput, concurrency ${concurrency}`);
    const tp = await poolThroughput({ concurrency, warmupJobs: 500, jobs: n(20_000) });
    raw[`poolThroughput${concurrency}`] = tp;
    rows.push({ section: "2a", metric: `No-op jobs/s, pool, concurrency ${concurrency} (${tp.jobs} jobs)`, value: perSecond(tp.perSecond), target: "≥ 5,000/s (problem < 1,000/s)", verdict: judge(tp.perSecond, 5000, 1000, true) });
  }
  const fullRows = (section: string, label: string, tp: FullThroughput, judged: boolean): Row[] => {
    const w = tp.writes;
    return [
      { section, metric: `No-op jobs/s, ${label}, concurrency ${tp.concurrency} (${tp.jobs} jobs)`, value: perSecond(tp.perSecond), target: judged ? "≥ 5,000/s (problem < 1,000/s)" : "diagnostic", verdict: judged ? judge(tp.perSecond, 5000, 1000, true) : "info" },
      {
        section,
        metric: `  durable writes per job (group commit): flushes / fsyncs`,
        value: `${(w.flushes / tp.jobs).toFixed(2)} / ${(w.fsyncs / tp.jobs).toFixed(2)}`,
        target: "",
        verdict: "info",
      },
    ];
  };
  for (const concurrency of [4, 16]) {
    say(`2b full-path throughput on disk, concurrency ${concurrency}`);
    const tp = await fullPathThroughput({ parentDir: diskDir, concurrency, warmupJobs: 200, jobs: n(3000) });
    raw[`fullThroughputDisk${concurrency}`] = tp;
    rows.push(...fullRows("2b", "full path (in-process controller, store on disk)", tp, true));
  }
  if (tmpfsDir !== undefined) {
    for (const concurrency of [4, 16]) {
      say(`2c full-path throughput on tmpfs, concurrency ${concurrency}`);
      const tp = await fullPathThroughput({ parentDir: tmpfsDir, concurrency, warmupJobs: 200, jobs: n(5000) });
      raw[`fullThroughputTmpfs${concurrency}`] = tp;
      rows.push(...fullRows("2c", "same, store on tmpfs (fsync ≈ free)", tp, false));
    }
  }
}

// ---- 4 (binary needed by 2d as well) ----
let binary = flags.get("binary");
if (binary === undefined && !flags.has("skip-binary")) {
  binary = "/tmp/bench-bin/edge-runner";
  mkdirSync(path.dirname(binary), { recursive: true });
  say(`building ${binary}`);
  const built = spawnSync(process.execPath, ["scripts/build.ts", "--skip-bundle", `--outfile=${binary}`], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (built.status !== 0) throw new Error(`Cannot build the executable for the bench: scripts/build.ts exited ${built.status}`);
}

if (binary !== undefined && want("2")) {
  const splits: Array<{ dir: string; label: string; concurrency: number; jobs: number }> = [
    ...(tmpfsDir === undefined ? [] : [4, 16].map((concurrency) => ({ dir: tmpfsDir, label: "tmpfs", concurrency, jobs: n(5000) }))),
    { dir: diskDir, label: "disk", concurrency: 16, jobs: n(2000) },
  ];
  for (const s of splits) {
    say(`2d runner alone, controller in its own process (store on ${s.label}), concurrency ${s.concurrency}`);
    const tp = await splitProcessThroughput({ binary, parentDir: s.dir, concurrency: s.concurrency, warmupJobs: 200, jobs: s.jobs });
    raw[`split-${s.label}-${s.concurrency}`] = tp;
    rows.push({
      section: "2d",
      metric: `No-op jobs/s, runner process + \`edge-runner controller\` process (${s.label}), concurrency ${s.concurrency}; CPU runner / controller`,
      value: `${perSecond(tp.perSecond)}; ${tp.runnerCpu.toFixed(2)} / ${tp.controllerCpu.toFixed(2)} cores`,
      target: "diagnostic",
      verdict: "info",
    });
  }
}

// ---- 8. peer: BullMQ on Redis at equal durability, interleaved with 2d and the pool ----
// bullmq and ioredis are loaded only here, after they are installed when missing.
if (binary !== undefined && (want("8") || want("8l"))) ensureNodePackages(root, ["bullmq", "ioredis"], say);
if (binary !== undefined && want("8")) {
  const { bullmqThroughput } = await import("./bench/bullmq-bench.ts");
  const rounds = quick ? 2 : 5;
  const concurrency = 16;
  say(`8 peer: BullMQ on redis-server (appendfsync always, ${diskDir}) vs runner + controller processes (store on ${diskDir}) vs pool alone, concurrency ${concurrency}, ${rounds} interleaved rounds`);
  const redis = await startRedis(diskDir);
  // The runner as `edge-runner run` has it by default, and beside it the other local-prefetch
  // setting (docs/protocol.md, "Local prefetch"), alternated in each round.
  const otherPrefetch = DEFAULT_PREFETCH === 0 ? 16 : 0;
  // Steady state on every side: each round starts fresh processes (controller, runner and its 16
  // worker VMs; BullMQ's worker), and a JIT that is still compiling counted ~0.02 CPU-s per 1,000
  // jobs against the controller alone with 200 warm-up jobs (docs/performance.md, "third round,
  // controller"). Each side gets the same warm-up before its clock starts.
  const warmupJobs = quick ? 200 : 2000;
  const timedJobs = n(8000);
  const perRound: Array<{ edge: number; bull: number; pool: number; edgeCpuPer1000: number; bullCpuPer1000: number; other: number; otherCpuPer1000: number }> = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // One job shape on every side: a no-op (NOOP_JOB: nothing logged, no step, nothing returned; BullMQ's `async () => undefined`).
      const runEdge = (prefetch?: number) => splitProcessThroughput({ binary, parentDir: diskDir, concurrency, ...(prefetch === undefined ? {} : { prefetch }), warmupJobs, jobs: timedJobs, job: NOOP_JOB });
      // The two prefetch settings swap places every round, so neither always runs first.
      const edge = r % 2 === 0 ? await runEdge() : undefined;
      const other = await runEdge(otherPrefetch);
      const edgeRun = edge ?? (await runEdge());
      const bull = await bullmqThroughput({ redis, concurrency, warmupJobs, jobs: timedJobs });
      const pool = await poolThroughput({ concurrency, warmupJobs, jobs: n(20_000), job: NOOP_JOB });
      const round = {
        edge: edgeRun.perSecond,
        bull: bull.perSecond,
        pool: pool.perSecond,
        edgeCpuPer1000: ((edgeRun.runnerCpu + edgeRun.controllerCpu) * edgeRun.seconds / edgeRun.jobs) * 1000,
        bullCpuPer1000: ((bull.workerCpu + bull.redisCpu) * bull.seconds / bull.jobs) * 1000,
        other: other.perSecond,
        otherCpuPer1000: ((other.runnerCpu + other.controllerCpu) * other.seconds / other.jobs) * 1000,
      };
      perRound.push(round);
      say(`  round ${r + 1}: edge-runner ${perSecond(round.edge)} (prefetch ${otherPrefetch}: ${perSecond(round.other)}), BullMQ ${perSecond(round.bull)}, pool ${perSecond(round.pool)}; CPU-s/1,000 jobs ${round.edgeCpuPer1000.toFixed(2)} vs ${round.bullCpuPer1000.toFixed(2)}`);
    }
  } finally {
    await redis.stop();
  }
  raw.peer = perRound;
  const vsBull = perRound.map((x) => x.edge / x.bull);
  const vsPool = perRound.map((x) => x.edge / x.pool);
  const list = (values: number[], digits = 2) => values.map((v) => v.toFixed(digits)).join(", ");
  const edgeCpu = median(perRound.map((x) => x.edgeCpuPer1000));
  rows.push(
    { section: "8", metric: `No-op jobs/s (nothing logged or returned on either side) at concurrency ${concurrency}, ${timedJobs} jobs timed after ${warmupJobs} warm-up jobs on each side, median of ${rounds} rounds: runner + controller processes (disk) / BullMQ + redis-server (appendfsync always, disk) / pool alone`, value: `${perSecond(median(perRound.map((x) => x.edge)))} / ${perSecond(median(perRound.map((x) => x.bull)))} / ${perSecond(median(perRound.map((x) => x.pool)))}`, target: "", verdict: "info" },
    { section: "8", metric: `  ratio edge-runner / BullMQ per round (${list(vsBull)}), median`, value: `${median(vsBull).toFixed(2)}×`, target: "≥ 1.0×", verdict: median(vsBull) >= 1 ? "ok" : "miss" },
    { section: "8", metric: `  ratio edge-runner / pool alone per round (${list(vsPool)}), median`, value: `${median(vsPool).toFixed(2)}×`, target: "≥ 0.5×", verdict: median(vsPool) >= 0.5 ? "ok" : "miss" },
    { section: "8", metric: `  CPU-seconds per 1,000 jobs, runner + controller per round (${list(perRound.map((x) => x.edgeCpuPer1000))}), median`, value: edgeCpu.toFixed(2), target: "≤ 0.30", verdict: edgeCpu <= 0.3 ? "ok" : "miss" },
    { section: "8", metric: `  beside: BullMQ worker + redis-server per round (${list(perRound.map((x) => x.bullCpuPer1000))}), median`, value: median(perRound.map((x) => x.bullCpuPer1000)).toFixed(2), target: "", verdict: "info" },
    { section: "8", metric: `  the rows above with the runner's default prefetch ${DEFAULT_PREFETCH}; with --prefetch ${otherPrefetch} instead: jobs/s median, ratio to BullMQ per round (${list(perRound.map((x) => x.other / x.bull))}) median / to pool alone median / CPU-s per 1,000 jobs median`, value: `${perSecond(median(perRound.map((x) => x.other)))}; ${median(perRound.map((x) => x.other / x.bull)).toFixed(2)}× / ${median(perRound.map((x) => x.other / x.pool)).toFixed(2)}× / ${median(perRound.map((x) => x.otherCpuPer1000)).toFixed(2)}`, target: "", verdict: "info" },
    { section: "8", metric: `  prefetch ${otherPrefetch} / default (${DEFAULT_PREFETCH}) jobs/s per round (${list(perRound.map((x) => x.other / x.edge))}), median`, value: `${median(perRound.map((x) => x.other / x.edge)).toFixed(2)}×`, target: "", verdict: "info" },
  );
}

// ---- 8 latency: submit → first line of the job's code beside BullMQ, interleaved job by job ----
if (binary !== undefined && (want("8") || want("8l"))) {
  const { latencyBesideBullmq } = await import("./bench/latency-peer-bench.ts");
  const rounds = quick ? 2 : 5;
  say(`8 latency: submit → first line of job code, edge-runner (controller + runner processes, disk) vs BullMQ (redis-server appendfsync always + worker process), one job at a time, ${rounds} rounds`);
  const redis = await startRedis(diskDir);
  try {
    const latency = await latencyBesideBullmq({ binary, parentDir: diskDir, redis, concurrency: 16, rounds, warmup: n(100), samples: n(300) }, (round, r) => {
      say(`  round ${r + 1}: p50 ${ms(round.edge.firstLine.p50Ms)} vs ${ms(round.bull.firstLine.p50Ms)}, p99 ${ms(round.edge.firstLine.p99Ms)} vs ${ms(round.bull.firstLine.p99Ms)} (edge-runner vs BullMQ)`);
    });
    raw.peerLatency = latency;
    rows.push(...latencyRows(latency));
  } finally {
    await redis.stop();
  }
}

// ---- 3. process per job ----
if (want("3")) {
  say("3 process-per-job baseline");
  const fresh = await freshProcessBaseline({ runs: n(20), runtimes: [{ name: "bun", bin: process.execPath }, { name: "node", bin: "node" }] });
  raw.fresh = fresh;
  for (const f of fresh) {
    const ratio = f.firstLineMs / (poolLat?.firstLog.p50Ms ?? Number.NaN);
    rows.push(
      { section: "3", metric: `Fresh ${f.runtime} process per job (echo-once.mjs): spawn → log line / → exit, median of ${f.runs}`, value: `${ms(f.firstLineMs)} / ${ms(f.exitMs)}`, target: "", verdict: "info" },
      { section: "3", metric: `  ratio fresh ${f.runtime} process / warm Worker (first log line, p50)`, value: `${Math.round(ratio)}×`, target: "≥ 100× (problem < 50×)", verdict: judge(ratio, 100, 50, true) },
    );
  }
}

if (binary !== undefined && want("4")) {
  say("4 compiled executable: size, --version, /readyz, RSS, beside a compiled Bun hello-world");
  const floor = buildHelloWorlds("/tmp/bench-bin/hello-world");
  const readyRuns = quick ? 5 : 11;
  const fp = await binaryFootprint({ binary, versionRuns: n(20), readyRuns, idleSettleMs: 5000, workers: 8, floor });
  raw.binary = fp;
  const mid = (values: number[]) => median(values);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const readyMs = mid(fp.readyMs);
  const helloReadyMs = mid(fp.floor.readyMs);
  const netReadyMs = mid(fp.floor.netReadyMs);
  const readyCpu = mid(fp.readyCpuMs);
  const list = (values: number[]) => values.map((v) => v.toFixed(1)).join(", ");
  rows.push(
    { section: "4", metric: "Executable size", value: `${fp.sizeBytes.toLocaleString("en-US")} B (${mib(fp.sizeBytes)})`, target: "", verdict: "info" },
    { section: "4", metric: `\`edge-runner --version\` wall time, median of ${n(20)} (floor: compiled hello-world, interleaved)`, value: `${ms(fp.versionMs)} (floor ${ms(fp.floor.versionMs)}, ${ratio(fp.versionMs, fp.floor.versionMs)})`, target: "≤ 1.5× floor", verdict: fp.versionMs <= 1.5 * fp.floor.versionMs ? "ok" : "miss" },
    { section: "4", metric: `Spawn \`edge-runner run\` → /readyz 200 (5 ms polls), median of ${readyRuns} (floor: compiled Bun.serve hello-world → 200, interleaved)`, value: `${ms(readyMs)} (floor ${ms(helloReadyMs)}, ${ratio(readyMs, helloReadyMs)})`, target: "≤ 2.5× floor", verdict: readyMs <= 2.5 * helloReadyMs ? "ok" : "miss" },
    { section: "4", metric: "  beside: the same hello-world ready only once it has an edge session and its WebSocket open at the controller (the runner's network step)", value: `${ms(netReadyMs)} (runner ${ratio(readyMs, netReadyMs)} of it)`, target: "", verdict: "info" },
    { section: "4", metric: "  CPU time of the process (all threads) when /readyz first answered 200: runner / hello-world / hello-world with the session", value: `${ms(readyCpu)} / ${ms(mid(fp.floor.readyCpuMs))} / ${ms(mid(fp.floor.netReadyCpuMs))} (${ratio(readyCpu, mid(fp.floor.readyCpuMs))} / ${ratio(readyCpu, mid(fp.floor.netReadyCpuMs))})`, target: "", verdict: "info" },
    { section: "4", metric: "  every run: runner / hello-world / hello-world with the session", value: `${list(fp.readyMs)} / ${list(fp.floor.readyMs)} / ${list(fp.floor.netReadyMs)} ms`, target: "", verdict: "info" },
    { section: "4", metric: "Idle RSS of the runner 5 s after start (floor: peak RSS of the hello-world)", value: `${mib(fp.idleRssBytes)} (floor ${mib(fp.floor.peakRssBytes)}, ${ratio(fp.idleRssBytes, fp.floor.peakRssBytes)})`, target: "≤ 1.6× floor", verdict: fp.idleRssBytes <= 1.6 * fp.floor.peakRssBytes ? "ok" : "miss" },
    { section: "4", metric: "  beside: idle RSS of the Bun.serve hello-world after the same 5 s; peak RSS of `--version`", value: `${mib(fp.floor.idleRssBytes)}; ${mib(fp.versionPeakRssBytes)}`, target: "", verdict: "info" },
    { section: "4", metric: `RSS per warm echo worker ((RSS with ${fp.workersSeen} idle workers − idle RSS) / ${fp.workersSeen})`, value: mib(fp.perWorkerBytes), target: "", verdict: "info" },
  );
}

// ---- 5. meshStack adapter ----
if (want("5")) {
  say("5 meshStack: claim-to-first-status latency and MANUAL runs/minute against the fake meshStack");
  const mesh = await meshstackBench({ samples: n(200), runs: n(500), slowRuns: quick ? 8 : 32 });
  raw.meshstack = mesh;
  rows.push(
    { section: "5", metric: `meshStack claim answered → first status PATCH received, p50 (${mesh.claimToFirstStatus.samples} runs, plugin ${mesh.plugin})`, value: ms(mesh.claimToFirstStatus.p50Ms), target: "", verdict: "info" },
    { section: "5", metric: "meshStack claim → first status, p99", value: ms(mesh.claimToFirstStatus.p99Ms), target: "", verdict: "info" },
    { section: "5", metric: `MANUAL runs/minute, one runner, concurrency 8 (backlog of ${mesh.runs})`, value: mesh.runsPerMinute.toFixed(0), target: "≥ floor", verdict: mesh.runsPerMinute >= mesh.oneAtATimeRunsPerMinute ? "ok" : "miss" },
    { section: "5", metric: "  floor: one run at a time, as meshcloud's runners (same fake, same run)", value: mesh.oneAtATimeRunsPerMinute.toFixed(0), target: "", verdict: "info" },
    { section: "5", metric: `Runs of 1 s each/minute, concurrency 8 (backlog of ${mesh.slowRuns})`, value: mesh.slowRunsPerMinute.toFixed(0), target: "≥ 4× floor", verdict: mesh.slowRunsPerMinute >= 4 * mesh.slowOneAtATimeRunsPerMinute ? "ok" : "miss" },
    { section: "5", metric: "  floor: one at a time, as meshcloud's runners", value: mesh.slowOneAtATimeRunsPerMinute.toFixed(0), target: "", verdict: "info" },
    { section: "5", metric: "  meshcloud's idle poll: 10 s (a run arriving at an idle runner waits 5 s on average); edge-runner's pollInterval 5 s ±20% (2.5 s on average)", value: "5 s vs 2.5 s", target: "", verdict: "info" },
  );
}

// ---- 6. secrets on the job path ----
if (want("6")) {
  say("6 secrets: RSA-4096 JWE input decryption per job, redaction per MiB of log");
  const sec = await secretsBench({ jobs: n(200), rounds: quick ? 2 : 5 });
  raw.secrets = sec;
  rows.push(
    { section: "6", metric: "Decrypt a job's encrypted input (RSA-4096 JWE, RSA-OAEP-256 + A256GCM), median per job", value: ms(sec.jweDecryptMs), target: `floor: bare RSA-4096 OAEP decrypt ${ms(sec.rsaFloorMs)}`, verdict: "info" },
    { section: "6", metric: "Redact 1 MiB of log lines, 10 live secrets (and their encoded forms)", value: ms(sec.redact10Ms), target: `floor: one substring scan per line ${ms(sec.scanFloorMs)}`, verdict: "info" },
    { section: "6", metric: "Redact 1 MiB of log lines, 1,000 live secrets", value: ms(sec.redact1000Ms), target: "", verdict: "info" },
    { section: "6", metric: "Redact 1 MiB, 10 live secrets after 1,000 finished jobs' secrets (must match the 10-secret row)", value: ms(sec.redact10AfterFinishedMs), target: "", verdict: "info" },
  );
}

// ---- 7. shell integration ----
if (want("7")) {
  say("7 shell job `true` through the full path, beside a fresh process per job");
  const shell = await shellBench({ parentDir: diskDir, warmup: 20, samples: n(300), freshRuns: n(50), runtimes: [{ name: "bun", bin: process.execPath }, { name: "node", bin: "node" }] });
  raw.shell = shell;
  rows.push(
    { section: "7", metric: `Shell job \`true\`, full path: submitJob() → result stored, p50 (${shell.fullPath.samples} jobs, one at a time)`, value: ms(shell.fullPath.p50Ms), target: "", verdict: "info" },
    { section: "7", metric: "  p99", value: ms(shell.fullPath.p99Ms), target: "", verdict: "info" },
    ...shell.freshProcess.map((f) => ({ section: "7", metric: `  beside: fresh ${f.runtime} process per job spawning \`true\`, p50 / p99`, value: `${ms(f.result.p50Ms)} / ${ms(f.result.p99Ms)}`, target: "", verdict: "info" as const })),
    { section: "7", metric: "  floor: bare spawn of `sh -c true`, p50 / p99", value: `${ms(shell.bareSpawn.p50Ms)} / ${ms(shell.bareSpawn.p99Ms)}`, target: "", verdict: "info" },
  );
}

// ---- 9. a runner fleet against one controller (issue 16) ----
if (binary !== undefined && want("9")) rows.push(...(await fleetSection({ binary, parentDir: diskDir, quick, say, raw })));

// ---- 10. the controller's store: embedded journal vs PostgreSQL with 1 and 2 controller processes (issue 16) ----
if (binary !== undefined && want("10")) rows.push(...(await storeSection({ binary, parentDir: diskDir, quick, say, raw })));

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const m = machine();
const report = markdown(m, rows, command);
writeFileSync(reportFile, report);
writeFileSync(reportFile.replace(/\.md$/, "") + ".json", JSON.stringify({ machine: m, results: raw }, null, 2));
console.log(text(rows));
console.log(`\n${m.nproc} CPUs, ${m.cpu}; Bun ${m.bun}, Node ${m.node}; ${((performance.now() - began) / 1000).toFixed(0)} s. Report: ${reportFile} (raw numbers: ${reportFile.replace(/\.md$/, "")}.json)`);
process.exit(0);
