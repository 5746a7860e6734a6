// Controller replicas on one PostgreSQL database, as processes of the compiled binary, with
// runner processes that list the replicas' URLs (issue 16): a replica SIGKILLed in the middle of
// a stream of jobs loses none and finishes none twice. Every job's side effect is a call to a
// loopback sink that counts executions (test/chaos/support/sink.ts); the census counts lost,
// duplicated, stuck and re-executed jobs and prints them.

import { afterEach, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { assertBuilt } from "../helpers/processes.ts";
import { takeCensus } from "../chaos/support/census.ts";
import { Sink } from "../chaos/support/sink.ts";
import { ReplicaCluster } from "./support/replica-cluster.ts";

// Leases long enough to outlast a failover (a reconnect after at most 1 s, a replica start of a
// second or two), heartbeats often enough that a lease is renewed through the replica the runner
// moved to.
const CONTROLLER_ARGS = ["--lease-ttl", "10s", "--heartbeat-interval", "1s", "--lease-grace", "20s"];
const RUNNER_ARGS = ["--transport", "websocket", "--concurrency", "4", "--reconnect-max", "1s"];

let current: { cluster: ReplicaCluster; sink: Sink } | undefined;
afterEach(async () => {
  await current?.cluster.stop();
  current?.cluster.remove();
  current?.sink.stop();
  current = undefined;
});

async function cluster(replicas: string[]): Promise<{ cluster: ReplicaCluster; sink: Sink }> {
  assertBuilt();
  current = { cluster: await ReplicaCluster.create({ replicas, controllerArgs: CONTROLLER_ARGS, runnerArgs: RUNNER_ARGS }), sink: new Sink() };
  return current;
}

test("a standby takes over a SIGKILLed controller on PostgreSQL: runners fail over to its URL and replay their outboxes; 0 of 24 jobs lost, 0 finished twice", async () => {
  const { cluster: c, sink } = await cluster(["a", "b"]);
  await c.startReplica("a");
  for (const id of ["r1", "r2"]) await c.startRunner(id, ["a", "b"]);
  const acked = new Map<string, string>();
  const submitTo = async (replica: string, i: number) => {
    const nonce = randomUUID();
    const id = await c.submit(replica, sink.input(nonce, 300 + ((i * 97) % 700)));
    if (id !== undefined) acked.set(id, nonce);
  };
  for (let i = 0; i < 12; i++) await submitTo("a", i);
  // Mid-stream: jobs running, results about to be reported through "a".
  for (let i = 0; i < 200 && sink.executions.size < 4; i++) await Bun.sleep(25);
  await c.killReplica("a");
  await c.startReplica("b");
  for (let i = 12; i < 24; i++) await submitTo("b", i);
  const census = await takeCensus({ name: "standby replica after SIGKILL (PostgreSQL)", cluster: c, sink, acked, kills: 1, settleMs: 60_000 });
  expect(acked.size).toBe(24);
  expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck }).toEqual({ lost: 0, duplicated: 0, stuck: 0 });
  expect(census.statuses.succeeded).toBe(24);
  // Both runners talk to "b" now, second in their lists.
  for (const id of ["r1", "r2"]) expect(await c.runnerStatus(id)).toMatchObject({ controllerUrl: c.url("b"), controllers: { index: 1, count: 2 } });
}, 180_000);

test("two active replicas on one database with runners on each, jobs submitted to either; one SIGKILLed mid-stream: 0 of 40 jobs lost, 0 finished twice", async () => {
  const { cluster: c, sink } = await cluster(["a", "b"]);
  await c.startReplica("a");
  await c.startReplica("b");
  // r1 and r2 start on "a", r3 and r4 on "b"; each lists the other replica second.
  for (const id of ["r1", "r2"]) await c.startRunner(id, ["a", "b"]);
  for (const id of ["r3", "r4"]) await c.startRunner(id, ["b", "a"]);
  const acked = new Map<string, string>();
  const submitTo = async (replica: string, i: number) => {
    const nonce = randomUUID();
    const id = await c.submit(replica, sink.input(nonce, 200 + ((i * 97) % 600)));
    if (id !== undefined) acked.set(id, nonce);
  };
  // Alternating replicas: a job submitted on one is run by runners of both.
  for (let i = 0; i < 20; i++) await submitTo(i % 2 === 0 ? "a" : "b", i);
  for (let i = 0; i < 200 && sink.executions.size < 8; i++) await Bun.sleep(25);
  await c.killReplica("a");
  for (let i = 20; i < 40; i++) await submitTo("b", i);
  const census = await takeCensus({ name: "two active replicas, one SIGKILLed (PostgreSQL)", cluster: c, sink, acked, kills: 1, settleMs: 60_000 });
  // For a failed run: how the live replica sees each job that did not succeed.
  for (const id of acked.keys()) {
    const job = await c.job(id);
    if (job?.status !== "succeeded") console.log(`replicas: job ${id} after the census: ${JSON.stringify(job)}`);
  }
  expect(acked.size).toBe(40);
  expect({ lost: census.lost, duplicated: census.duplicated, stuck: census.stuck }).toEqual({ lost: 0, duplicated: 0, stuck: 0 });
  expect(census.statuses.succeeded).toBe(40);
  for (const id of ["r1", "r2", "r3", "r4"]) expect(await c.runnerStatus(id)).toMatchObject({ controllerUrl: c.url("b") });
}, 180_000);
