// The runner's own controller API key, kept as a secret in the controller's store (an operator's
// slip, or a copy for "the deploy job"), is never handed to a job: the runner service passes its
// key to the secret backends' own-credential guard (secret-backends.ts), and the job's read is
// refused with secret_permission_denied naming the reference, never the value.

import { afterEach, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startRunnerService } from "../../src/cli/runner-service.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually, startController, tempDir } from "../helpers/harness.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test("startRunnerService(): a controller-store secret holding the runner's own API key (also base64) fails the job that reads it with secret_permission_denied; another secret is read", async () => {
  const controllerData = tempDir("edge-runner-key-guard-controller-");
  cleanups.push(controllerData.remove);
  const { controller } = await startController({ dataDir: controllerData.dir });
  cleanups.push(() => controller.close());
  const { apiKey } = await controller.registerRunner({ id: "r1", group: "default" });
  await controller.secrets.set("runner-key", apiKey);
  await controller.secrets.set("runner-key-b64", Buffer.from(`{"key":"${apiKey}"}`).toString("base64"));
  await controller.secrets.set("fine", "an-ordinary-secret");
  const runnerData = tempDir("edge-runner-key-guard-runner-");
  cleanups.push(runnerData.remove);
  mkdirSync(path.join(runnerData.dir, "keys"), { recursive: true });
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(path.join(runnerData.dir, "keys", "runner-key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const { config } = resolveConfig({
    scopes: ["runner"],
    argv: ["--runner-id", "r1", "--controller-url", controller.url, "--data-dir", runnerData.dir, "--status-port", "0", "--start-jitter", "0", "--reconnect-min", "20ms", "--reconnect-max", "40ms"],
    env: { EDGE_RUNNER_API_KEY: apiKey },
    readFile: () => "",
  });
  const service = await startRunnerService(config, memoryLogger("error").logger);
  cleanups.push(() => service.stop());
  await eventually(() => (service.runner.snapshot().connection.state === "connected" ? true : undefined), 10_000, "the first session");
  for (const ref of ["runner-key", "runner-key-b64"]) {
    const job = controller.submitJob({ plugin: "echo", action: "secret", input: { ref }, secrets: [ref], maxAttempts: 1 });
    const done = await controller.waitForJob(job.id, 20_000);
    expect({ ref, status: done.status, code: done.error?.code }).toEqual({ ref, status: "failed", code: "secret_permission_denied" });
    expect(done.error?.message).toContain(ref);
    expect(JSON.stringify(done)).not.toContain(apiKey);
  }
  const fine = controller.submitJob({ plugin: "echo", action: "secret", input: { ref: "fine" }, secrets: ["fine"], maxAttempts: 1 });
  expect(await controller.waitForJob(fine.id, 20_000)).toMatchObject({ status: "succeeded", output: { ref: "fine", length: "an-ordinary-secret".length } });
}, 60_000);
