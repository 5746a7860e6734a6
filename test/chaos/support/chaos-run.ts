// One chaos run's cluster and sink, created per test and always stopped and removed after it.

import { afterEach } from "bun:test";
import { Cluster, type ClusterOptions } from "./cluster.ts";
import { Sink } from "./sink.ts";

export interface ChaosRun {
  cluster: Cluster;
  sink: Sink;
}

/** Registers the cleanup; `start()` makes a fresh cluster (controller started) and sink. */
export function chaosRuns(): { start(options: ClusterOptions): Promise<ChaosRun> } {
  let current: ChaosRun | undefined;
  afterEach(async () => {
    await current?.cluster.stop();
    current?.cluster.remove();
    current?.sink.stop();
    current = undefined;
  });
  return {
    async start(options) {
      const sink = new Sink();
      const cluster = await Cluster.create(options);
      current = { cluster, sink };
      await cluster.startController();
      return current;
    },
  };
}
