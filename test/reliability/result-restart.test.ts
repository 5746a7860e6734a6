// A result the controller could not take survives a runner restart. The controller is SIGKILLed
// while a job runs; the job finishes with nobody to report to; the runner is SIGKILLed too. Both
// start again: the job's first attempt is reported (it used to wait out its lease, 90 s after a
// controller start, and run again), the saved result was sealed on disk, and it is gone once
// acknowledged. The same through a drain (SIGTERM) while the controller is away. After the SIGKILL
// the runner's API key is rotated too (runner register --rotate): the result still goes out.

import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { binaryBed, launchController, TEST_BINARY } from "../helpers/binary-bed.ts";
import { eventually } from "../helpers/harness.ts";
import { runToEnd, start, STATUS_URL, waitForHttp, waitForOutput, type Proc } from "../helpers/processes.ts";

const bed = binaryBed("edge-runner-result-restart-");

async function cli(args: string[]): Promise<string> {
  const { code, output } = await runToEnd(TEST_BINARY, args);
  if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
  return output;
}

const spooled = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".result.json")) : []);

for (const stop of ["SIGKILL", "SIGTERM"] as const) {
  test(`a result finished while the controller is down is reported after the runner's ${stop} and restart: attempt 1, not run again`, async () => {
    const dir = path.join(bed.dir, stop);
    const controllerDir = path.join(dir, "controller");
    let { proc: controller, common } = await launchController(TEST_BINARY, bed.procs, controllerDir);
    const keyFile = path.join(dir, "r1.key");
    await cli(["runner", "register", "r1", "--api-key-out", keyFile, ...common]);
    const runnerDir = path.join(dir, "runner");
    const startRunner = async (url: string): Promise<Proc> => {
      const proc = start(TEST_BINARY, ["run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0", "--start-jitter", "0", "--data-dir", runnerDir, "--drain-timeout", "5s"]);
      bed.procs.push(proc);
      await waitForHttp(`${await waitForOutput(proc, STATUS_URL)}/readyz`);
      return proc;
    };
    let runner = await startRunner(common[1]!);
    const job = JSON.parse(await cli(["job", "submit", "echo", "--action", "sleep", "--input", '{"ms":1500}', "--json", ...common])) as { id: string };
    const get = async () => JSON.parse(await cli(["job", "get", job.id, "--json", ...common])) as { status: string; attempt: number };
    await eventually(async () => ((await get()).status === "running" ? true : undefined), 20_000, "the job to run");

    controller.kill("SIGKILL");
    await controller.exited;
    // The job ends with no controller to report to: its result is saved, sealed.
    const results = path.join(runnerDir, "results");
    const [file] = await eventually(() => (spooled(results).length === 1 ? spooled(results) : undefined), 20_000, "the result to be saved");
    const saved = readFileSync(path.join(results, file!), "utf8");
    expect(JSON.parse(saved)).toMatchObject({ v: 2, key: `${job.id}#1`, sealedBy: expect.any(String), sealed: expect.any(String) });
    expect(saved).not.toContain("succeeded");
    // Sealed with the spool's own key file, beside the runner's keys, not with the API key.
    expect(statSync(path.join(runnerDir, "keys", "results.key")).mode & 0o777).toBe(0o600);
    runner.kill(stop);
    await runner.exited;

    ({ proc: controller, common } = await launchController(TEST_BINARY, bed.procs, controllerDir));
    // After the SIGKILL the runner also comes back with a new API key: what it saved under the old one still goes out.
    if (stop === "SIGKILL") {
      rmSync(keyFile);
      await cli(["runner", "register", "r1", "--rotate", "--api-key-out", keyFile, ...common]);
    }
    runner = await startRunner(common[1]!);
    const done = await eventually(async () => {
      const current = await get();
      return current.status === "running" ? undefined : current;
    }, 20_000, "the first attempt's result");
    expect(done).toMatchObject({ status: "succeeded", attempt: 1 });
    await eventually(() => (spooled(results).length === 0 ? true : undefined), 20_000, "the saved result to be removed");
    runner.kill("SIGTERM");
    expect(await runner.exited).toBe(0);
    controller.kill("SIGTERM");
    expect(await controller.exited).toBe(0);
  }, 90_000);
}
