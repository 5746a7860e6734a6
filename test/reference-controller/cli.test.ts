// The job, runner and controller commands run in-process against a controller on port 0.
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { jobCommand } from "../../src/cli/job-command.ts";
import { runnerAdminCommand } from "../../src/cli/runner-admin-command.ts";
import { secretCommand } from "../../src/cli/secret-command.ts";
import { controllerCommand, runController } from "../../src/cli/controller-command.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { UsageError } from "../../src/config/usage-error.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { MAX_SECRETS } from "../../src/reference-controller/secret-store.ts";
import { FakeRunner, tempDir } from "./helpers.ts";

let controller: ReferenceController;
let dataDir: string;
let common: string[];

beforeAll(async () => {
  dataDir = tempDir();
  controller = await ReferenceController.start({ dataDir, port: 0, logger: memoryLogger().logger, autoSweep: false });
  common = ["--controller-url", controller.url, "--data-dir", dataDir];
});
afterAll(async () => {
  await controller.close();
});

/** Runs a command with stdout/stderr captured. */
async function run(command: { run(args: string[]): Promise<number> }, args: string[]) {
  let stdout = "", stderr = "";
  const out = process.stdout.write, err = process.stderr.write;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    const code = await command.run(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test("runnerAdminCommand register prints the key once, --api-key-out writes it with mode 0600", async () => {
  const shown = await run(runnerAdminCommand, ["register", "cli-1", "--group", "ops", ...common]);
  expect(shown.code).toBe(0);
  const key = shown.stdout.trim().split("\n").at(-1) as string;
  expect(controller.runners.authenticate("cli-1", key)?.group).toBe("ops");

  const keyFile = path.join(tempDir(), "api-key");
  const written = await run(runnerAdminCommand, ["register", "cli-2", "--api-key-out", keyFile, "--json", ...common]);
  expect(JSON.parse(written.stdout)).toEqual({ id: "cli-2", group: "default", apiKeyFile: keyFile });
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(written.stdout).not.toContain(fs.readFileSync(keyFile, "utf8").trim());

  const again = await run(runnerAdminCommand, ["register", "cli-1", ...common]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('Cannot register runner "cli-1": it is already registered');

  const list = await run(runnerAdminCommand, ["list", ...common]);
  expect(list.stdout).toMatch(/^ID\s+GROUP\s+STATUS/);
  expect(list.stdout).toMatch(/cli-1\s+ops\s+pending\s+no/);
  const json = JSON.parse((await run(runnerAdminCommand, ["list", "--json", ...common])).stdout);
  expect(json.runners.map((r: { id: string }) => r.id)).toContain("cli-2");
});

test("jobCommand submit, get, list, cancel and logs", async () => {
  const submitted = await run(jobCommand, ["submit", "kubectl", "--action", "run", "--input", '{"cmd":"true"}', "--group", "idle", "--json", ...common]);
  expect(submitted.code).toBe(0);
  const job = JSON.parse(submitted.stdout);
  expect(job).toMatchObject({ plugin: "kubectl", action: "run", group: "idle", input: { cmd: "true" }, status: "queued" });

  const got = await run(jobCommand, ["get", job.id, ...common]);
  expect(got.stdout).toContain(`id         ${job.id}`);
  expect(got.stdout).toContain("status     queued");

  const listed = await run(jobCommand, ["list", "--status", "queued", "--group", "idle", ...common]);
  expect(listed.stdout).toContain(job.id);
  expect((await run(jobCommand, ["list", "--status", "nope", ...common])).code).toBe(64);

  const cancelled = await run(jobCommand, ["cancel", job.id, "--json", ...common]);
  expect(JSON.parse(cancelled.stdout).status).toBe("cancelled");
  const missing = await run(jobCommand, ["get", "job_missing", ...common]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('Cannot get job "job_missing": no such job');
});

test("jobCommand submit --wait and logs --follow see a job a runner runs", async () => {
  const runner = FakeRunner.connect(controller, "cli-runner", "work");
  runner.send({ type: "credit", slots: 1 });
  const inputFile = path.join(tempDir(), "input.json");
  fs.writeFileSync(inputFile, '{"n":1}');
  const waiting = run(jobCommand, ["submit", "echo", "--input-file", inputFile, "--group", "work", "--wait", "--json", ...common]);
  let offer;
  for (let i = 0; i < 400 && offer === undefined; i++) {
    offer = runner.of("offer")[0];
    if (offer === undefined) await Bun.sleep(5);
  }
  if (offer === undefined) throw new Error("no offer");
  const { id } = offer.job;
  runner.send({ type: "log", jobId: id, attempt: 1, seq: 1, lines: [{ ts: 0, level: "info", msg: "hello from the job" }] });
  runner.send({ type: "step", jobId: id, attempt: 1, seq: 2, step: { id: "s1", name: "Greet", status: "succeeded" } });
  runner.send({ type: "result", jobId: id, attempt: 1, lastSeq: 2, status: "succeeded", output: { n: 1 }, startedAt: 1, finishedAt: 2 });
  const done = await waiting;
  expect(done.code).toBe(0);
  expect(JSON.parse(done.stdout)).toMatchObject({ id, status: "succeeded", output: { n: 1 } });

  const logs = await run(jobCommand, ["logs", id, "--follow", ...common]);
  // Log lines carry their attempt like steps do (a retried job's lines are told apart), and
  // --follow ends with how the job ended.
  expect(logs.stdout).toMatch(/^\[attempt 1\] 1970-01-01 00:00:00 INFO  hello from the job$/m);
  expect(logs.stdout).toContain("[attempt 1] step Greet: succeeded");
  expect(logs.stdout.trimEnd().split("\n").at(-1)).toBe(`job ${id} succeeded`);
});

test("jobCommand logs --follow on a job that logged nothing ends with its status line; a cancel says who asked once", async () => {
  const submitted = JSON.parse((await run(jobCommand, ["submit", "echo", "--group", "nobody-serves-this", "--json", ...common])).stdout) as { id: string };
  await run(jobCommand, ["cancel", submitted.id, ...common]);
  const logs = await run(jobCommand, ["logs", submitted.id, "--follow", ...common]);
  expect(logs.code).toBe(0);
  expect(logs.stdout.trim()).toBe(`job ${submitted.id} cancelled: job_cancelled: an operator asked for it`);
});

test("jobCommand and runnerAdminCommand fail with a UsageError on bad flags, a ConfigError with no admin token", async () => {
  const badInput = run(jobCommand, ["submit", "echo", "--input", "{bad", ...common]);
  await expect(badInput).rejects.toBeInstanceOf(UsageError);
  await expect(badInput).rejects.toThrow("Cannot parse the job input of --input as JSON");
  await expect(run(jobCommand, ["list", "--controller-url", controller.url, "--data-dir", tempDir()])).rejects.toThrow("No admin token");
  await expect(run(jobCommand, ["list", "--bogus", ...common])).rejects.toThrow('Unknown option "--bogus"');
  await expect(run(jobCommand, ["list", "--statu", "queued", ...common])).rejects.toThrow('Unknown option "--statu" (did you mean --status?)');
  const help = await run(runnerAdminCommand, ["--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("--admin-token-file");
  const unreachable = await run(jobCommand, ["list", "--controller-url", "http://127.0.0.1:1", "--admin-token", "x"]);
  expect(unreachable.code).toBe(69);
});

test("runController() prints its URL, serves, and stops when its signal aborts; the JIT's normal policy is back by then", async () => {
  // The executable starts with raised tier-up thresholds (scripts/build.ts): a controller left
  // that way would run its per-job path in the interpreter 16 times longer.
  const unsafe = Bun.unsafe as { setJITPolicy: (scale: number) => void };
  const setJITPolicy = unsafe.setJITPolicy;
  const policies: number[] = [];
  unsafe.setJITPolicy = (scale: number) => void policies.push(scale);
  const dir = tempDir();
  const { config } = resolveConfig({ scopes: ["controller"], argv: ["--data-dir", dir, "--listen-port", "0"], env: {} });
  const stop = new AbortController();
  let stdout = "";
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  let running: Promise<number>;
  try {
    running = runController(config, memoryLogger().logger, stop.signal);
    for (let i = 0; i < 400 && !stdout.includes("listening"); i++) await Bun.sleep(5);
  } finally {
    process.stdout.write = write;
    unsafe.setJITPolicy = setJITPolicy;
  }
  expect(policies).toEqual([1]);
  const url = /listening on (\S+)/.exec(stdout)?.[1] as string;
  expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
  expect(fs.statSync(path.join(dir, "controller", "admin-token")).mode & 0o777).toBe(0o600);
  stop.abort();
  expect(await running).toBe(0);
  expect((await run(controllerCommand, ["--help"])).stdout).toContain("--lease-ttl");
});

test("jobCommand get shows leases given back unstarted (release) as not counted toward maxAttempts", async () => {
  const runner = FakeRunner.connect(controller, "cli-prefetch", "held");
  const job = controller.submitJob({ plugin: "echo", group: "held", maxAttempts: 1 });
  runner.send({ type: "credit", slots: 1 });
  await controller.core.store.durable();
  runner.send({ type: "release", jobId: job.id, attempt: 1 });
  await controller.core.store.durable();
  const got = await run(jobCommand, ["get", job.id, ...common]);
  expect(got.stdout).toContain("attempt    1 of 1 (1 given back unstarted, not counted)");
  expect(got.stdout).toContain("status     queued");
});

test("jobCommand submit refuses an 8 GiB --input-file or --secret NAME=@FILE by its size, naming the option, the file and the cap", async () => {
  const huge = path.join(dataDir, "huge-input.json");
  fs.writeFileSync(huge, "");
  fs.truncateSync(huge, 8 * 1024 ** 3);
  const tooLarge = (cap: number) => `The file "${huge}" is ${8 * 1024 ** 3} bytes, over the cap of ${cap} bytes for it; not read`;
  const input = run(jobCommand, ["submit", "echo", "--input-file", huge, ...common]);
  await expect(input).rejects.toMatchObject({ code: "config_invalid", field: "--input-file" });
  await expect(input).rejects.toThrow(`Cannot read input file "${huge}": ${tooLarge(4 * 1024 * 1024)}`);
  await expect(run(jobCommand, ["submit", "echo", "--secret", `token=@${huge}`, ...common])).rejects.toThrow(`Cannot read secret input "token" from "${huge}": ${tooLarge(64 * 1024 + 2)}`);
});

test("secretCommand list prints the first 1,000 names and says on stderr that the store holds more (--json: truncated)", async () => {
  // A secrets.json filled past the cap (before it, or by another tool), read at start.
  const full = tempDir();
  fs.mkdirSync(path.join(full, "controller"), { recursive: true });
  const names = Array.from({ length: MAX_SECRETS + 2 }, (_, i) => `s${String(i).padStart(5, "0")}`);
  fs.writeFileSync(path.join(full, "controller", "secrets.json"), JSON.stringify({ v: 2, values: Object.fromEntries(names.map((name) => [name, "not read by a listing"])) }), { mode: 0o600 });
  const crowded = await ReferenceController.start({ dataDir: full, port: 0, logger: memoryLogger().logger, autoSweep: false });
  try {
    const flags = ["--controller-url", crowded.url, "--data-dir", full];
    const listed = await run(secretCommand, ["list", ...flags]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.trimEnd().split("\n")).toEqual(names.slice(0, MAX_SECRETS));
    expect(listed.stderr).toBe(`edge-runner secret list: the controller holds more than ${MAX_SECRETS} secrets; these are the first ${MAX_SECRETS} by name (it takes no new name until some are deleted)\n`);
    const json = await run(secretCommand, ["list", "--json", ...flags]);
    expect(JSON.parse(json.stdout)).toEqual({ secrets: names.slice(0, MAX_SECRETS), truncated: true });
    expect(json.stderr).toBe("");
  } finally {
    await crowded.close();
  }
  const few = await run(secretCommand, ["list", "--json", ...common]);
  expect({ stdout: JSON.parse(few.stdout), stderr: few.stderr }).toEqual({ stdout: { secrets: [], truncated: false }, stderr: "" });
});
