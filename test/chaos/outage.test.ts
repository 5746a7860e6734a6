// Chaos, issue 9 item 3: a controller outage re-runs no finished work. Jobs run while the
// controller is stopped (SIGSTOP), killed (SIGKILL) or terminated (SIGTERM) for the outage, and
// finish during it; their results must be accepted when it is back, and no job may run twice.
// The defaults are a 60 s outage against a 30 s lease (and the runners' 60 s reconnect ceiling);
// CI uses a shorter outage with the lease, reconnect ceiling and grace shortened in proportion
// (CHAOS_OUTAGE_MS sets it; `npm run chaos` uses the full 60 s).

import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { assertBuilt } from "../helpers/processes.ts";
import { takeCensus } from "./support/census.ts";
import { chaosRuns } from "./support/chaos-run.ts";
import { CHAOS, FULL, scaled } from "./support/settings.ts";

const runs = chaosRuns();

const s = (ms: number) => `${ms}ms`;
const modes = FULL ? (["SIGSTOP", "SIGKILL", "SIGTERM"] as const) : (["SIGSTOP", "SIGKILL"] as const);

for (const mode of modes) {
  test(`a ${CHAOS.outageMs / 1000} s controller outage (${mode}) re-runs 0 of 12 jobs that finish during it`, async () => {
    assertBuilt();
    const outage = CHAOS.outageMs;
    const t = scaled(outage);
    const { cluster, sink } = await runs.start({
      // Full length: the defaults (no lease flags). Shorter: everything scaled together.
      controllerArgs: outage === 60_000 ? [] : ["--lease-ttl", s(t.leaseTtlMs), "--heartbeat-interval", s(t.heartbeatMs), "--lease-grace", s(t.leaseGraceMs)],
      runnerArgs: ["--transport", "websocket", "--concurrency", "6", ...(outage === 60_000 ? [] : ["--reconnect-max", s(t.reconnectMaxMs)])],
    });
    for (const id of ["r1", "r2"]) await cluster.startRunner(id);
    const acked = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const nonce = randomUUID();
      // Each job runs into the outage and ends inside it.
      const id = await cluster.submit(sink.input(nonce, Math.round(outage * (0.25 + (0.5 * i) / 12))), 5);
      expect(id).toBeDefined();
      acked.set(id as string, nonce);
    }
    // Every job started (its side effect began) before the controller goes away.
    for (let i = 0; i < 400 && sink.executions.size < 12; i++) await Bun.sleep(25);
    expect(sink.executions.size).toBe(12);
    const controller = cluster.controller!;
    if (mode === "SIGSTOP") {
      controller.kill("SIGSTOP");
      await Bun.sleep(outage);
      controller.kill("SIGCONT");
    } else {
      await cluster.killController(mode);
      await Bun.sleep(outage);
      await cluster.startController();
    }
    const census = await takeCensus({ name: `controller outage ${outage / 1000} s (${mode})`, cluster, sink, acked, kills: 1, settleMs: outage * 3 + 30_000 });
    expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck, reExecuted: census.reExecuted }).toEqual({ lost: 0, duplicated: 0, stuck: 0, reExecuted: 0 });
    expect(census.statuses.succeeded).toBe(12);
    expect(census.attempts).toEqual({ "1": 12 });
  }, CHAOS.outageMs * 6 + 120_000);
}
