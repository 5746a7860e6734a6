// A small fault matrix run through the real pool, printed as one JSON line. The cross-runtime
// tests run it under Node and Deno (bundled with esbuild) and inside a compiled Bun binary.
// Usage: pool-probe <faults-bundle-path> [memory | pipeline]

import { memoryLogger } from "../../../src/log/logger.ts";
import { PluginPool } from "../../../src/plugins/pool.ts";
import { fileBundleSource } from "../../../src/plugins/plugin-ref.ts";

const faultsPath = process.argv[2];
if (faultsPath === undefined) throw new Error("Usage: pool-probe <faults-bundle-path> [memory | pipeline]");
const cases: Array<[plugin: string, action: string]> = [
  ["echo", "default"], ["faults", "throw"], ["faults", "unhandled"], ["faults", "uncaught"],
  ["faults", "exit"], ["faults", "loop"], ["faults", "ok"],
];
if (process.argv[3] === "memory") cases.push(["faults", "memory"], ["faults", "ok"]);
if (process.env.PROBE_CASES) cases.splice(0, cases.length, ...process.env.PROBE_CASES.split(",").map((c) => c.split(".") as [string, string]));

const { logger } = memoryLogger();
const pool = new PluginPool({
  idleMs: 60_000, cancelGraceMs: 50, maxWorkerHeapMb: 64, logger,
  resolve: (ref) => fileBundleSource(faultsPath, ref.name, "0.0.1"),
});
const run = (plugin: string, action: string, timeoutMs = action === "loop" ? 300 : action === "memory" ? 5_000 : 20_000) => pool.run({
  jobId: `${plugin}-${action}`, attempt: 1, plugin, action, input: { hello: 1 },
  timeoutMs, signal: new AbortController().signal,
  onLog: () => undefined, onStep: () => undefined,
});
const results: string[] = [];
for (const [plugin, action] of cases) {
  const outcome = await run(plugin, action);
  results.push(`${plugin}.${action}=${outcome.status}:${outcome.error?.code ?? ""}`);
  if (process.env.PROBE_VERBOSE) process.stderr.write(`${plugin}.${action} ${JSON.stringify(outcome)}\n`);
}
// Short runs queued behind busy workers (src/plugins/pool-pipeline.ts): the claim slots are shared
// memory, which each runtime must share between the threads, not copy.
const pipeline = process.argv[3] === "pipeline" ? await queueBehindBusy() : undefined;
await pool.close();
process.stdout.write(JSON.stringify({ results, workersAfterClose: pool.workers().length, ...(pipeline === undefined ? {} : { pipeline }) }) + "\n");

async function queueBehindBusy(): Promise<{ woken: number; burst: string[]; behind: string; stuck: string }> {
  await pool.prewarm("faults", 4);
  let woken = Number.POSITIVE_INFINITY;
  let burst: string[] = [];
  for (let attempt = 0; attempt < 3 && woken > 2; attempt++) {
    for (let i = 0; i < 64; i++) await run("faults", "ok");
    const before = new Map(pool.workers().map((w) => [w.id, w.jobsServed]));
    burst = (await Promise.all(Array.from({ length: 8 }, () => run("faults", "ok")))).map((o) => o.status);
    woken = pool.workers().filter((w) => w.jobsServed > (before.get(w.id) ?? 0)).length;
  }
  const stuck = run("faults", "loop", 1500);
  const behind = (await run("faults", "ok")).status;
  return { woken, burst, behind, stuck: (await stuck).status };
}
