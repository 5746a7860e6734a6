// Key rotation end to end through the built executable: a secret input encrypted to the old key
// (queued while the runner was down) still runs after `keys rotate`; a new job is encrypted to
// the new key; after `keys retire` a value for the old key fails at once with
// secret_undecryptable, naming the input path and the key id.

import { expect, test } from "bun:test";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { decodeProtectedHeader } from "jose";
import { encryptToRunner } from "../../src/secrets/jwe.ts";
import { ringKeyOf } from "../../src/secrets/key-ring.ts";
import { STATUS_URL, runToEnd, start, waitForHttp, waitForOutput, type Proc } from "../helpers/processes.ts";
import { binaryBed, TEST_BINARY, launchController } from "../helpers/binary-bed.ts";

const binary = TEST_BINARY;
const bed = binaryBed("edge-runner-e2e-rotation-");
const { procs } = bed;

interface JobJson { id: string; status: string; input?: Record<string, any>; output?: Record<string, unknown>; error?: { code: string; message: string } }

test("keys rotate keeps queued inputs decryptable, new jobs use the new key, keys retire makes old ones fail at once", async () => {
  const cli = async (args: string[]): Promise<string> => {
    const { code, output } = await runToEnd(binary, args);
    if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
    return output;
  };
  const dataDir = path.join(bed.dir, "controller");
  const runnerDir = path.join(bed.dir, "runner");
  const { proc: controller, url, common } = await launchController(binary, procs, dataDir);
  const keyFile = path.join(dataDir, "r1.key");
  await cli(["runner", "register", "r1", "--api-key-out", keyFile, ...common]);
  const runnerKeys = async (): Promise<string[]> => {
    const list = JSON.parse(await cli(["runner", "list", "--json", ...common])) as { runners: Array<{ id: string; keyIds?: string[] }> };
    return list.runners.find((r) => r.id === "r1")?.keyIds ?? [];
  };
  const waitForKeys = async (want: string[]) => {
    const deadline = Date.now() + 20_000;
    while (JSON.stringify(await runnerKeys()) !== JSON.stringify(want)) {
      if (Date.now() > deadline) throw new Error(`The controller never learned keys ${want.join(",")} (has ${(await runnerKeys()).join(",")})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const startRunner = async () => {
    const runner = start(binary, ["run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0", "--start-jitter", "0", "--data-dir", runnerDir, "--key-ring-check", "1s"]);
    procs.push(runner);
    await waitForHttp(`${await waitForOutput(runner, STATUS_URL)}/readyz`);
    return runner;
  };
  const stop = async (proc: Proc) => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  };
  const submit = async (args: string[]): Promise<JobJson> => JSON.parse(await cli(["job", "submit", "echo", "--json", ...args, ...common])) as JobJson;
  const wait = async (id: string): Promise<JobJson> => {
    for (;;) {
      const job = JSON.parse(await cli(["job", "get", id, "--json", ...common])) as JobJson;
      if (!["queued", "leased", "running"].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kidOf = (job: JobJson, name: string): string | undefined => decodeProtectedHeader(job.input?.[name]?.$secret as string).kid as string | undefined;

  // K1: the runner's first key, told to the controller at start.
  const lastLine = (text: string): string => text.trim().split("\n").at(-1) ?? "";
  const k1 = lastLine(await cli(["keys", "rotate", "--data-dir", runnerDir]));
  let runner = await startRunner();
  await waitForKeys([k1]);
  await stop(runner);

  // Queued while the runner is down: encrypted by the controller to K1.
  const queued = await submit(["--secret", "password=queued-secret-123"]);
  expect(kidOf(queued, "password")).toBe(k1);
  expect(JSON.stringify(queued)).not.toContain("queued-secret-123");

  const k2 = lastLine(await cli(["keys", "rotate", "--data-dir", runnerDir]));
  expect(k2).not.toBe(k1);
  const k1Public = ringKeyOf(readFileSync(path.join(runnerDir, "keys", `runner-key.${k1}.pem`), "utf8"), false, "k1").publicJwk;
  runner = await startRunner();
  const ran = await wait(queued.id);
  expect(ran.error).toBeUndefined();
  expect(ran).toMatchObject({ status: "succeeded", output: { password: "[REDACTED]" } });
  await waitForKeys([k2, k1]);

  // NAME=@FILE keeps the value out of the process list; one trailing newline is dropped.
  const valueFile = path.join(bed.dir, "fresh-secret.txt");
  writeFileSync(valueFile, "fresh-secret-456\n", { mode: 0o600 });
  const fresh = await submit(["--secret", `password=@${valueFile}`]);
  expect(kidOf(fresh, "password")).toBe(k2);
  expect(await wait(fresh.id)).toMatchObject({ status: "succeeded", output: { password: "[REDACTED]" } });

  // Retired: the runner drops K1 and tells the controller; a value for K1 now fails at once.
  // A key id is a base64url thumbprint: one in 64 starts with "-", so it goes after "--".
  await cli(["keys", "retire", "--data-dir", runnerDir, "--", k1]);
  await waitForKeys([k2]);
  const oldValue = await encryptToRunner("too-late-secret-789", { ...k1Public, kid: k1 });
  const late = await submit(["--input", JSON.stringify({ db: { password: { $secret: oldValue } } })]);
  const failed = await wait(late.id);
  expect(failed.status).toBe("failed");
  expect(failed.error?.code).toBe("secret_undecryptable");
  expect(failed.error?.message).toContain('input path "db.password"');
  expect(failed.error?.message).toContain(k1);
  expect(failed.error?.message).not.toContain(oldValue.slice(0, 30));
  expect(createPublicKey(createPrivateKey(readFileSync(path.join(runnerDir, "keys", "runner-key.pem"), "utf8"))).asymmetricKeyDetails?.modulusLength).toBe(4096);

  await stop(runner);
  controller.kill("SIGTERM");
  expect(await controller.exited).toBe(0);
}, 180_000);
