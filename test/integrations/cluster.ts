// A reference controller and one runner, both the compiled binary, for the integration tests:
// submit through the CLI, read jobs and logs, and stop everything afterwards.

import { expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CONTROLLER_URL, FLAVOURS, STATUS_URL, assertBuilt, runToEnd, start, waitForHttp, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";

export interface JobView {
  id: string;
  status: string;
  output?: unknown;
  error?: { code: string; message: string };
}

export interface Cluster {
  url: string;
  dir: string;
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number | null; output: string }>;
  submit(plugin: string, action: string, input: unknown, extra?: string[]): Promise<string>;
  job(id: string): Promise<JobView>;
  waitFor(id: string, done: (job: JobView) => boolean, timeoutMs?: number): Promise<JobView>;
  logs(id: string): Promise<string>;
  /** Stores a secret in the controller (through a 0600 file, as an operator would). */
  setSecret(name: string, value: string): Promise<void>;
  /** Everything the runner process printed so far (stdout and stderr). */
  runnerOutput(): string;
  stop(): Promise<void>;
}

export const binary = FLAVOURS[0] as Flavour;

export async function startCluster(options: { runnerEnv?: Record<string, string>; runnerArgs?: string[] } = {}): Promise<Cluster> {
  assertBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-integrations-"));
  const procs: Proc[] = [];
  const dataDir = path.join(dir, "controller");
  const controller = start(binary, ["controller", "--data-dir", dataDir, "--listen-port", "0"]);
  procs.push(controller);
  const url = await waitForOutput(controller, CONTROLLER_URL);
  await waitForHttp(`${url}/api/v1/health`, 20_000, (s) => s < 500);
  const common = ["--controller-url", url, "--data-dir", dataDir];
  const cli = (args: string[], env?: Record<string, string>) => runToEnd(binary, [...args, ...common], env === undefined ? {} : { env });
  const keyFile = path.join(dir, "r1.key");
  const registered = await cli(["runner", "register", "r1", "--api-key-out", keyFile]);
  expect(registered.code).toBe(0);
  const runner = start(binary, ["run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(dir, "runner"), ...(options.runnerArgs ?? [])], { env: options.runnerEnv ?? {} });
  procs.push(runner);
  const statusUrl = await waitForOutput(runner, STATUS_URL);
  await waitForHttp(`${statusUrl}/readyz`);
  const job = async (id: string): Promise<JobView> => JSON.parse((await cli(["job", "get", id, "--json"])).output) as JobView;
  return {
    url,
    dir,
    cli,
    async submit(plugin, action, input, extra = []) {
      const { code, output } = await cli(["job", "submit", plugin, "--action", action, "--input", JSON.stringify(input), "--json", ...extra]);
      if (code !== 0) throw new Error(`job submit exited ${code}: ${output}`);
      return (JSON.parse(output) as { id: string }).id;
    },
    job,
    async waitFor(id, done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await job(id);
        if (done(view)) return view;
        if (Date.now() > deadline) throw new Error(`Job ${id} never reached the state asked for; it is ${JSON.stringify(view)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async logs(id) {
      return (await cli(["job", "logs", id])).output;
    },
    async setSecret(name, value) {
      const file = path.join(dir, `secret-${name}`);
      writeFileSync(file, value, { mode: 0o600 });
      expect((await cli(["secret", "set", name, "--value-file", file])).code).toBe(0);
    },
    runnerOutput: () => runner.output(),
    async stop() {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const terminal = (job: JobView): boolean => ["succeeded", "failed", "cancelled", "timed_out", "dead"].includes(job.status);
