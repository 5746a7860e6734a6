// SecretInputsExecutor and an input nested past the depth bound (64): until 2026-12-02
// hasInputSecrets() answered "no marker" past the bound, so a {"$secret": JWE} marker there
// reached the plugin as ciphertext, neither decrypted nor failed. Now the job fails input_invalid.
import { expect, test } from "bun:test";
import { SecretInputsExecutor } from "../../src/runner/secret-inputs-executor.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import type { RunnerKeyRing } from "../../src/secrets/key-ring.ts";

function nested(levels: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

function recording(): { inner: JobExecutor; seen: unknown[] } {
  const seen: unknown[] = [];
  const inner: JobExecutor = {
    run: async (request) => {
      seen.push(request.input);
      return { status: "succeeded", output: null };
    },
    workers: () => [],
    close: async () => {},
  };
  return { inner, seen };
}

const run = (executor: JobExecutor, input: unknown) =>
  executor.run({ jobId: "j", attempt: 1, plugin: "p", action: "a", input, timeoutMs: 1000, signal: new AbortController().signal } as never);

test("SecretInputsExecutor fails a job whose only encrypted input is nested past 64 levels, naming the depth, without running it", async () => {
  const { inner, seen } = recording();
  // An empty ring: the marker is never decrypted (the walk refuses the depth first).
  const executor = new SecretInputsExecutor(inner, () => ({}) as RunnerKeyRing);
  const outcome = await run(executor, nested(70, { $secret: "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.x.y.z.w" }));
  expect(seen).toHaveLength(0);
  expect(outcome.status).toBe("failed");
  if (outcome.status !== "failed") return;
  expect(outcome.error?.code).toBe("input_invalid");
  expect(outcome.error?.message).toContain("nested deeper than 64 levels");
  expect(outcome.error?.message).not.toContain("eyJhbGci");
});

test("SecretInputsExecutor still runs a plain input at the depth bound as it is", async () => {
  const { inner, seen } = recording();
  const executor = new SecretInputsExecutor(inner, () => {
    throw new Error("a plain input never asks the ring");
  });
  const input = nested(64, "leaf");
  const outcome = await run(executor, input);
  expect(outcome.status).toBe("succeeded");
  expect(seen).toEqual([input]);
});
