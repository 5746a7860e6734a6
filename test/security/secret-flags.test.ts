// A secret given as a flag is in the process's arguments, which every local user can read
// (/proc/<pid>/cmdline, ps) while it runs. Node can overwrite them, the compiled executable (Bun)
// cannot, so the runner and the controller say so at start, naming the file option instead, and
// never the value. This test checks the arguments are indeed readable, then the warnings; the
// warnings failed before.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { start, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
const source: Flavour = { name: "source", command: [process.execPath, `${root}src/main.ts`] };
const dir = mkdtempSync(join(tmpdir(), "secret-flags-"));
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
});

test("resolveConfig() names the secret options given as flags, not those from a file or the environment", () => {
  expect(resolveConfig({ scopes: ["runner"], argv: ["--api-key", "k-1234567890"], env: {} }).secretFlags).toEqual(["--api-key"]);
  expect(resolveConfig({ scopes: ["runner"], argv: [], env: { EDGE_RUNNER_API_KEY: "k-1234567890" } }).secretFlags).toEqual([]);
  expect(resolveConfig({ scopes: ["controller"], argv: ["--admin-token=t-1234567890", "--listen-port", "0"], env: {} }).secretFlags).toEqual(["--admin-token"]);
});

test("the controller and the runner warn at start about a secret flag, without the value", async () => {
  const token = "adm-flag-secret-7Hq2Lx9V";
  const apiKey = "k-flag-secret-Qw8Zp1Rt";
  const controller = start(source, ["controller", "--data-dir", join(dir, "c"), "--listen-port", "0", "--admin-token", token]);
  const runner = start(source, ["run", "--runner-id", "r1", "--api-key", apiKey, "--controller-url", "http://127.0.0.1:9", "--data-dir", join(dir, "r"), "--status-port", "0", "--start-jitter", "0"]);
  procs.push(controller, runner);
  await waitForOutput(controller, /Reference controller listening/);
  // What the warning is about: another process reads the value from the arguments.
  expect(readFileSync(`/proc/${controller.child.pid}/cmdline`, "utf8")).toContain(token);
  expect(controller.output()).toContain('Option \\"--admin-token\\" puts a secret on the command line');
  expect(controller.output()).toContain('use \\"--admin-token-file\\" instead');
  await waitForOutput(runner, /Option \\"--api-key\\" puts a secret on the command line/);
  expect(controller.output()).not.toContain(token);
  expect(runner.output()).not.toContain(apiKey);
}, 60_000);
