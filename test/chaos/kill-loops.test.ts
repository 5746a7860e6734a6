// Chaos: SIGKILL loops under a stream of jobs, through the compiled binary, on both transports.
// Runners are killed and restarted (their jobs lapse and re-run elsewhere: at-least-once); the
// controller is killed and restarted on the same port and data directory (its journal replays).
// Each run ends with a census: every acknowledged job terminal exactly once, none lost,
// duplicated or stuck. `npm run chaos` runs the same loops at full length.

import { afterEach, describe, expect, test } from "bun:test";
import { assertBuilt } from "../helpers/processes.ts";
import { takeCensus } from "./support/census.ts";
import { Cluster } from "./support/cluster.ts";
import { CHAOS, FULL } from "./support/settings.ts";
import { Sink } from "./support/sink.ts";
import { JobStream } from "./support/stream.ts";

const TIMEOUT = FULL ? 3_600_000 : 120_000;
let cluster: Cluster | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster?.remove();
  sink?.stop();
  cluster = undefined;
  sink = undefined;
});

const pause = (min: number, max: number) => Bun.sleep(Math.round(min + Math.random() * (max - min)));

for (const transport of ["websocket", "poll"] as const) {
  describe(`chaos over ${transport}`, () => {
    test(`runner SIGKILL loop: ${CHAOS.runnerKills} kills, nothing lost, duplicated or stuck`, async () => {
      assertBuilt();
      sink = new Sink();
      cluster = await Cluster.create({
        controllerArgs: ["--lease-ttl", "3s", "--heartbeat-interval", "1s", "--lease-grace", "4s"],
        runnerArgs: ["--transport", transport, "--reconnect-min", "100ms", "--reconnect-max", "1s", "--concurrency", "4"],
      });
      await cluster.startController();
      const ids = ["r1", "r2"];
      for (const id of ids) await cluster.startRunner(id);
      const stream = new JobStream(cluster, sink, { intervalMs: 60 });
      for (let kill = 0; kill < CHAOS.runnerKills; kill++) {
        await pause(300, 900);
        const id = ids[kill % ids.length] as string;
        await cluster.killRunner(id);
        await cluster.startRunner(id, [], false);
      }
      await pause(500, 800);
      await stream.stop();
      const census = await takeCensus({ name: `runner SIGKILL loop (${transport})`, cluster, sink, acked: stream.acked, kills: CHAOS.runnerKills, settleMs: 60_000 });
      expect(census.jobs).toBeGreaterThan(CHAOS.runnerKills);
      expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck }).toEqual({ lost: 0, duplicated: 0, stuck: 0 });
      expect(census.statuses.succeeded).toBe(census.jobs);
    }, TIMEOUT);

    test(`controller SIGKILL loop: ${CHAOS.controllerKills} kills, nothing lost, duplicated or stuck`, async () => {
      assertBuilt();
      sink = new Sink();
      cluster = await Cluster.create({
        controllerArgs: ["--lease-ttl", "3s", "--heartbeat-interval", "1s", "--lease-grace", "4s"],
        runnerArgs: ["--transport", transport, "--reconnect-min", "100ms", "--reconnect-max", "1s", "--concurrency", "4"],
      });
      await cluster.startController();
      for (const id of ["r1", "r2"]) await cluster.startRunner(id);
      const stream = new JobStream(cluster, sink, { intervalMs: 60 });
      for (let kill = 0; kill < CHAOS.controllerKills; kill++) {
        await pause(500, 1200);
        await cluster.killController();
        await pause(50, 400);
        await cluster.startController();
      }
      await pause(500, 800);
      await stream.stop();
      const census = await takeCensus({ name: `controller SIGKILL loop (${transport})`, cluster, sink, acked: stream.acked, kills: CHAOS.controllerKills, settleMs: 60_000, extra: { refusedSubmits: stream.refused } });
      expect(census.jobs).toBeGreaterThan(CHAOS.controllerKills);
      expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck }).toEqual({ lost: 0, duplicated: 0, stuck: 0 });
      expect(census.statuses.succeeded).toBe(census.jobs);
    }, TIMEOUT);
  });
}
