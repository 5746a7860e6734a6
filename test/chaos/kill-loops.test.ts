// Chaos: SIGKILL loops under a stream of jobs, through the compiled binary, on both transports.
// Runners are killed and restarted (their jobs lapse and re-run elsewhere: at-least-once); the
// controller is killed and restarted on the same port and data directory (its journal replays).
// Each run ends with a census: every acknowledged job terminal exactly once, none lost,
// duplicated or stuck. `npm run chaos` runs the same loops at full length.

import { describe, expect, test } from "bun:test";
import { assertBuilt } from "../helpers/processes.ts";
import { takeCensus, type Census } from "./support/census.ts";
import { chaosRuns, type ChaosRun } from "./support/chaos-run.ts";
import { CHAOS, FULL } from "./support/settings.ts";
import { JobStream } from "./support/stream.ts";

const TIMEOUT = FULL ? 3_600_000 : 120_000;
const runs = chaosRuns();

const pause = (min: number, max: number) => Bun.sleep(Math.round(min + Math.random() * (max - min)));

/** A controller with short leases and two runners on `transport`, under a stream of jobs. */
async function underStream(transport: "websocket" | "poll"): Promise<ChaosRun & { stream: JobStream }> {
  assertBuilt();
  const run = await runs.start({
    controllerArgs: ["--lease-ttl", "3s", "--heartbeat-interval", "1s", "--lease-grace", "4s"],
    runnerArgs: ["--transport", transport, "--reconnect-min", "100ms", "--reconnect-max", "1s", "--concurrency", "4"],
  });
  for (const id of ["r1", "r2"]) await run.cluster.startRunner(id);
  return { ...run, stream: new JobStream(run.cluster, run.sink, { intervalMs: 60 }) };
}

function expectClean(census: Census, kills: number): void {
  expect(census.jobs).toBeGreaterThan(kills);
  expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck }).toEqual({ lost: 0, duplicated: 0, stuck: 0 });
  expect(census.statuses.succeeded).toBe(census.jobs);
}

for (const transport of ["websocket", "poll"] as const) {
  describe(`chaos over ${transport}`, () => {
    test(`runner SIGKILL loop: ${CHAOS.runnerKills} kills, nothing lost, duplicated or stuck`, async () => {
      const { cluster, sink, stream } = await underStream(transport);
      const ids = ["r1", "r2"];
      for (let kill = 0; kill < CHAOS.runnerKills; kill++) {
        await pause(300, 900);
        const id = ids[kill % ids.length] as string;
        await cluster.killRunner(id);
        await cluster.startRunner(id, [], false);
      }
      await pause(500, 800);
      await stream.stop();
      expectClean(await takeCensus({ name: `runner SIGKILL loop (${transport})`, cluster, sink, acked: stream.acked, kills: CHAOS.runnerKills, settleMs: 60_000 }), CHAOS.runnerKills);
    }, TIMEOUT);

    test(`controller SIGKILL loop: ${CHAOS.controllerKills} kills, nothing lost, duplicated or stuck`, async () => {
      const { cluster, sink, stream } = await underStream(transport);
      for (let kill = 0; kill < CHAOS.controllerKills; kill++) {
        await pause(500, 1200);
        await cluster.killController();
        await pause(50, 400);
        await cluster.startController();
      }
      await pause(500, 800);
      await stream.stop();
      const census = await takeCensus({ name: `controller SIGKILL loop (${transport})`, cluster, sink, acked: stream.acked, kills: CHAOS.controllerKills, settleMs: 60_000, extra: { refusedSubmits: stream.refused } });
      expectClean(census, CHAOS.controllerKills);
    }, TIMEOUT);
  });
}
