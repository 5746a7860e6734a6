import { expect, test } from "bun:test";
import { PendingCalls } from "../../src/plugins/action-context.ts";
import type { WorkerToHost } from "../../src/plugins/worker-protocol.ts";

test("PendingCalls.open() drops a call whose post threw and rejects it with the post's error", async () => {
  const calls = new PendingCalls();
  const refused = new DOMException("() => {} could not be cloned.", "DataCloneError");
  const failed = calls.open(() => {
    throw refused;
  }, 1, { op: "storage.list", prefix: "" });
  await expect(failed).rejects.toBe(refused);
  expect(calls.size).toBe(0);
});

test("PendingCalls.open() keeps a posted call until its reply settles it", async () => {
  const calls = new PendingCalls();
  const posted: WorkerToHost[] = [];
  const pending = calls.open((message) => posted.push(message), 1, { op: "storage.list", prefix: "" });
  expect(calls.size).toBe(1);
  const sent = posted[0];
  if (sent?.type !== "call") throw new Error("no call posted");
  calls.settle(sent.callId, true, ["a"]);
  expect(await pending).toEqual(["a"]);
  expect(calls.size).toBe(0);
});
