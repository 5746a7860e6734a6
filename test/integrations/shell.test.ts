// The shell integration through the compiled binary: a job's output is in its logs while the
// command still runs, exit codes map to the result, cancel ends the whole tree, and a wrong input
// fails at `job submit` (exit 64) naming the field, before anything is sent.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(() => cluster?.stop());

test("shell job: the first line is in the job's logs before the command ends; exit 0 succeeds", async () => {
  const id = await cluster.submit("shell", "run", { command: ["sh", "-c", "echo first-line; sleep 4; echo last-line"] });
  const deadline = Date.now() + 20_000;
  let logs = "";
  while (!logs.includes("first-line") && Date.now() < deadline) logs = await cluster.logs(id);
  expect(logs).toContain("first-line");
  expect(logs).not.toContain("last-line");
  expect((await cluster.job(id)).status).toBe("running");
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toEqual({ exitCode: 0, truncated: false });
}, 60_000);

test("shell job: a non-zero exit fails with command_failed", async () => {
  const done = await cluster.waitFor(await cluster.submit("shell", "run", { command: ["sh", "-c", "exit 7"] }), terminal);
  expect(done.status).toBe("failed");
  expect(done.error).toEqual({ code: "command_failed", message: 'Command "sh" exited with code 7' });
}, 60_000);

test("shell job: cancel mid-run leaves no process of the job (grandchild ignores SIGTERM)", async () => {
  const pidFile = path.join(cluster.dir, "grandchild.pid");
  const id = await cluster.submit("shell", "run", { command: ["sh", "-c", `(trap "" TERM; exec sleep 300) & echo $! > ${pidFile}; echo started; sleep 300`] });
  await cluster.waitFor(id, () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "");
  const grandchild = Number(readFileSync(pidFile, "utf8"));
  expect(existsSync(`/proc/${grandchild}`)).toBe(true);
  expect((await cluster.cli(["job", "cancel", id])).code).toBe(0);
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("cancelled");
  const stat = existsSync(`/proc/${grandchild}/stat`) ? readFileSync(`/proc/${grandchild}/stat`, "utf8") : "";
  expect(stat === "" || / Z /.test(stat)).toBe(true);
}, 60_000);

test("job submit shell with a wrong input exits 64 naming the field, and submits nothing", async () => {
  const before = (await cluster.cli(["job", "list", "--json"])).output;
  const bad = await cluster.cli(["job", "submit", "shell", "--input", '{"command":"ls -l"}']);
  expect(bad.code).toBe(64);
  expect(bad.output).toContain('Cannot submit a "shell" job: input.command must be an array, got "ls -l"');
  const escape = await cluster.cli(["job", "submit", "shell", "--input", '{"command":["true"],"cwd":"../.."}']);
  expect(escape.code).toBe(64);
  expect(escape.output).toContain("input.cwd must match");
  expect((await cluster.cli(["job", "list", "--json"])).output).toBe(before);
}, 60_000);
