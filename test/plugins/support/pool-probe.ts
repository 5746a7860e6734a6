// A small fault matrix run through the real pool, printed as one JSON line. The cross-runtime
// tests run it under Node and Deno (bundled with esbuild) and inside a compiled Bun binary.
// Usage: pool-probe <faults-bundle-path> [memory]

import { memoryLogger } from "../../../src/log/logger.ts";
import { PluginPool } from "../../../src/plugins/pool.ts";
import { fileBundleSource } from "../../../src/plugins/plugin-ref.ts";

const faultsPath = process.argv[2];
if (faultsPath === undefined) throw new Error("Usage: pool-probe <faults-bundle-path> [memory]");
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
const results: string[] = [];
for (const [plugin, action] of cases) {
  const outcome = await pool.run({
    jobId: `${plugin}-${action}`, attempt: 1, plugin, action, input: { hello: 1 },
    timeoutMs: action === "loop" ? 300 : action === "memory" ? 5_000 : 20_000, signal: new AbortController().signal,
    onLog: () => undefined, onStep: () => undefined,
  });
  results.push(`${plugin}.${action}=${outcome.status}:${outcome.error?.code ?? ""}`);
  if (process.env.PROBE_VERBOSE) process.stderr.write(`${plugin}.${action} ${JSON.stringify(outcome)}\n`);
}
await pool.close();
process.stdout.write(JSON.stringify({ results, workersAfterClose: pool.workers().length }) + "\n");
