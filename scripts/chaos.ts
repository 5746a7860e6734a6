// `npm run chaos`: the chaos suite (test/chaos/) at full length through the compiled binary:
// hundreds of runner and controller SIGKILLs on both transports, the 60 s controller outage with
// default leases, 10,000+ hostile frames each way, a full disk. Every census goes to the report
// (CHAOS_REPORT, default chaos-report.md), which starts with when and on what it ran.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

const report = process.env.CHAOS_REPORT ?? "chaos-report.md";
const bun = process.execPath;
fs.writeFileSync(report, `# Chaos report\n\n${new Date().toISOString()}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}\n\n`);
const build = spawnSync(bun, ["scripts/build.ts"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const started = Date.now();
const run = spawnSync(bun, ["test", "--timeout", "3600000", "test/chaos", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, CHAOS_FULL: "1", CHAOS_REPORT: report },
});
fs.appendFileSync(report, `\nExit ${run.status} after ${Math.round((Date.now() - started) / 1000)} s.\n`);
console.log(`Chaos report written to ${report}`);
process.exit(run.status ?? 1);
