// What a plugin prints after its run ended (a timer left behind, a child's late output) can reach
// the runner after the worker's next run began. Two leaks, both fixed: a raw write was masked
// with the last run's secrets and those of the runs pending on it, by then the next job's, so the
// earlier job's secret reached the runner's log in the clear (the worker host now keeps its last
// few runs' redactions); and a console line went into the next job's log, masked with that job's
// secrets only (the worker now knows which run's code printed, by AsyncLocalStorage).

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { PoolPolicy } from "../../src/plugins/pool-policy.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { eventually } from "../helpers/harness.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const SECRET_A = "cnry-late-A-7Hq2Lx9Vb3Kd";
const SECRET_B = "cnry-late-B-Wm4Pz8Rt5Yc1";
const PLUGIN = `import { writeSync } from "node:fs";
export default { name: "late", version: "1.0.0", actions: {
  leave(input) { setTimeout(() => { writeSync(2, "late raw " + input.s + "\\n"); console.log("late console " + input.s); }, 300); return { ok: true }; },
  async hold() { await new Promise((r) => setTimeout(r, 1500)); return { ok: true }; },
} };`;
const file = join(mkdtempSync(join(tmpdir(), "late-plugin-")), "late.mjs");
writeFileSync(file, PLUGIN);

const scoped = (secret: string) => {
  const scope = new RedactionScope();
  scope.add(secret);
  return scope;
};

const { pool, records } = testPool({ policy: new PoolPolicy({ maxWorkers: 1, maxJobsPerWorker: 1000, idleMs: 60_000, prewarm: 0, isolation: "thread" }), resolve: () => fileBundleSource(file, "late", "1.0.0") });
afterAll(() => pool.close());

test("a job's secret a plugin prints after its run, while the worker runs the next job, is masked", async () => {
  const a = scoped(SECRET_A);
  expect((await pool.run(request("late", "leave", { input: { s: SECRET_A }, redaction: a }))).status).toBe("succeeded");
  // The job's scope ends with its job; the worker keeps what it needs to mask its late output.
  a.dispose();
  const b = request("late", "hold", { input: {}, redaction: scoped(SECRET_B) });
  const next = pool.run(b);
  const late = () => records.filter((r) => String(r.line ?? r.text ?? r.msg).includes("late "));
  // Both as the worker's stray output: the console line too, which went into the next job's log.
  await eventually(() => (late().length >= 2 ? true : undefined), 10_000, "both late lines in the runner's log");
  expect((await next).status).toBe("succeeded");
  const printed = JSON.stringify(late());
  expect(printed).toContain("[REDACTED]");
  expect(printed).not.toContain(SECRET_A);
  expect(JSON.stringify(b.logs)).not.toContain("late");
}, 20_000);
