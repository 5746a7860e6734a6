// Secret inputs through the reference controller and a runner in one process: the controller
// encrypts at submit and stores only ciphertext, the runner decrypts just before the run, and a
// value for a key the runner lacks fails the job at once with secret_undecryptable.

import { afterEach, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { RunnerKeyRing, ringKeyOf } from "../../src/secrets/key-ring.ts";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(ring?: RunnerKeyRing) {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, adminToken: "admin-token-1" });
  const started = startRunner({ controller, ...(ring === undefined ? {} : { ring }) });
  cleanups.push(tmp.remove, () => controller.close(), () => started.runner.drain());
  await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  const submit = async (body: unknown) => {
    const res = await controller.app.request("/api/v1/jobs", { method: "POST", headers: { authorization: "Bearer admin-token-1", "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  return { controller, dataDir: tmp.dir, submit, ...started };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test("a secret input is stored as ciphertext, decrypted by the runner, and masked in its logs", async () => {
  const { controller, submit, dataDir } = await setup();
  const secret = "in-put-secret-4711";
  const answer = await submit({ plugin: "echo", input: { plain: "p" }, secretInputs: { password: secret } });
  expect(answer.status).toBe(201);
  expect(JSON.stringify(answer.body)).not.toContain(secret);
  expect(typeof answer.body.input.password.$secret).toBe("string");
  const done = await controller.waitForJob(answer.body.id, 10_000);
  expect(done.status).toBe("succeeded");
  const events = JSON.stringify((await controller.core.logs.read(done.id, 0, 1000)));
  expect(events).toContain("[REDACTED]");
  expect(events).not.toContain(secret);
  // The controller's files hold no plaintext of the input (its journal stores the JWE).
  await controller.durable();
  for (const file of filesUnder(join(dataDir, "controller"))) {
    if (statSync(file).size < 50_000_000) expect(readFileSync(file, "latin1")).not.toContain(secret);
  }
});

test("a secret input for a key the runner does not hold fails at once with secret_undecryptable", async () => {
  const other = new RunnerKeyRing("(memory)", [ringKeyOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string, true, "(memory)")]);
  const { controller, submit } = await setup();
  // The controller believes the runner holds `other`'s key (as after the runner retired it).
  controller.runners.setEncryptionKeys("r1", other.publicJwks());
  const answer = await submit({ plugin: "echo", secretInputs: { token: "never-decrypted-1" } });
  const done = await controller.waitForJob(answer.body.id, 10_000);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("secret_undecryptable");
  expect(done.error?.message).toContain('input path "token"');
  expect(done.error?.message).toContain(other.current!.kid);
  expect(done.error?.message).toContain("holds no matching key");
});

test("secret inputs are refused when no runner of the group told a key, or when malformed", async () => {
  const { submit } = await setup();
  expect((await submit({ plugin: "echo", group: "empty", secretInputs: { a: "value-1" } })).body.error.message).toContain("no runner of the group");
  expect((await submit({ plugin: "echo", secretInputs: { "bad name": "v" } })).status).toBe(400);
  expect((await submit({ plugin: "echo", secretInputs: { a: "" } })).status).toBe(400);
  expect((await submit({ plugin: "echo", input: [1], secretInputs: { a: "value" } })).status).toBe(400);
});
