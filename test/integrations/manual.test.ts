// The manual integration through the compiled binary: the job waits with a "Waiting for
// approval" step until `job approve|reject`, or fails with approval_timeout; a wrong input fails
// at submit; the callback endpoint refuses a caller without the job's token.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(() => cluster?.stop());

async function waitingFor(id: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if ((await cluster.logs(id)).includes("Waiting for approval: running")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Job ${id} never showed the waiting step:\n${await cluster.logs(id)}`);
}

test("manual job waits for `job approve`, then succeeds with the comment and its outputs", async () => {
  const id = await cluster.submit("manual", "default", { message: "Deploy to prod?", pollMs: 200, outputs: { ticket: "CHG-1" } });
  await waitingFor(id);
  expect((await cluster.job(id)).status).toBe("running");
  const approved = await cluster.cli(["job", "approve", id, "--comment", "looks good"]);
  expect(approved.code).toBe(0);
  expect(approved.output).toContain("approved");
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toEqual({ ticket: "CHG-1", approved: true, comment: "looks good" });
  expect(await cluster.logs(id)).toContain("Waiting for approval: succeeded");
  // A decision is final.
  expect((await cluster.cli(["job", "reject", id])).code).not.toBe(0);
}, 60_000);

test("manual job fails with approval_rejected after `job reject`", async () => {
  const id = await cluster.submit("manual", "default", { pollMs: 200 });
  await waitingFor(id);
  expect((await cluster.cli(["job", "reject", id, "--comment", "not today"])).code).toBe(0);
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("approval_rejected");
  expect(done.error?.message).toContain("not today");
}, 60_000);

test("manual job fails with approval_timeout when nobody answers in time", async () => {
  const id = await cluster.submit("manual", "default", { pollMs: 200, timeoutMs: 1500 });
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("approval_timeout");
}, 60_000);

test("the approval callback refuses a caller without the job's token; submit checks the input", async () => {
  const id = await cluster.submit("manual", "default", { pollMs: 200, timeoutMs: 60_000 });
  const none = await fetch(`${cluster.url}/callback/v1/jobs/${id}/approval`);
  expect(none.status).toBe(401);
  const wrong = await fetch(`${cluster.url}/callback/v1/jobs/${id}/approval`, { headers: { authorization: "Bearer not-the-token" } });
  expect(wrong.status).toBe(401);
  expect(JSON.stringify(await wrong.json())).not.toContain("not-the-token");
  await cluster.cli(["job", "cancel", id]);
  const bad = await cluster.cli(["job", "submit", "manual", "--input", '{"pollMs":5}']);
  expect(bad.code).toBe(64);
  expect(bad.output).toContain("input.pollMs must be at least 100, got 5");
}, 60_000);
