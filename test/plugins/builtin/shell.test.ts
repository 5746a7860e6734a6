// The shell plugin through a real plugin pool (Worker thread): streaming, exit codes, scripts,
// secrets as env/files, output cap, inputs that would leave the working directory, and cancel
// stopping a tree whose grandchild ignores SIGTERM.

import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { redactor } from "../../../src/log/redact.ts";
import { request, testPool, waitFor } from "../support/helpers.ts";

const { pool } = testPool({ cancelGraceMs: 2000 });
afterAll(() => pool.close());

const msgs = (r: { logs: Array<{ msg: string }> }): string[] => r.logs.map((l) => l.msg);

test("shell streams the first line before the command ends, and maps exit 0 to success", async () => {
  const r = request("shell", "run", { input: { command: ["sh", "-c", "echo first; sleep 1.5; echo second"] } });
  const running = pool.run(r);
  await waitFor(() => msgs(r).includes("first"), "the first line", 10_000);
  expect(msgs(r)).not.toContain("second");
  const outcome = await running;
  expect(outcome.status).toBe("succeeded");
  expect(outcome.output).toEqual({ exitCode: 0, truncated: false });
  expect(msgs(r)).toEqual(["first", "second"]);
  expect(r.steps.map((s) => s.status)).toEqual(["running", "succeeded"]);
});

test("shell fails with command_failed and keeps the exit code as output", async () => {
  const r = request("shell", "run", { input: { command: ["sh", "-c", "echo oops >&2; exit 3"] } });
  const outcome = await pool.run(r);
  expect(outcome).toEqual({ status: "failed", error: { code: "command_failed", message: 'Command "sh" exited with code 3' }, output: { exitCode: 3 } });
  expect(r.logs.find((l) => l.msg === "oops")?.level).toBe("warn");
});

test("shell runs a script with its interpreter, stdin, env, files and a cwd inside the work dir", async () => {
  const r = request("shell", "run", {
    input: {
      script: 'read line; echo "in=$line env=$GREETING"; cat "$HOME/conf/a.txt"; pwd | grep -q "/sub$" && echo in-sub',
      interpreter: ["sh", "-e"],
      stdin: "hello\n",
      env: { GREETING: "hi" },
      files: { "conf/a.txt": "file content\n" },
      cwd: "sub",
    },
  });
  const outcome = await pool.run(r);
  expect(outcome.status).toBe("succeeded");
  expect(msgs(r)).toEqual(["in=hello env=hi", "file content", "in-sub"]);
});

test("shell gives a secret as env and file, and the value never reaches the log", async () => {
  const r = request("shell", "run", {
    input: { command: ["sh", "-c", 'echo "token=$TOKEN"; cat key.pem'], secretEnv: { TOKEN: "api" }, secretFiles: { "key.pem": "api" } },
    secrets: { api: "s3cr3t-value-xyz" },
  });
  const outcome = await pool.run(r);
  expect(outcome.status).toBe("succeeded");
  expect(JSON.stringify(r.logs)).not.toContain("s3cr3t-value-xyz");
  expect(msgs(r)).toContain(`token=${redactor.text("s3cr3t-value-xyz")}`);
});

test("shell cuts output past outputMaxBytes with one marker and still finishes", async () => {
  const r = request("shell", "run", { input: { command: ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"], outputMaxBytes: 1024 } });
  const outcome = await pool.run(r);
  expect(outcome.status).toBe("succeeded");
  expect((outcome.output as { truncated: boolean }).truncated).toBe(true);
  expect(msgs(r).filter((m) => m.includes("[output truncated")).length).toBe(1);
  expect(msgs(r).length).toBeLessThan(200);
});

test("shell refuses paths that leave the working directory, naming the field", async () => {
  for (const input of [{ command: ["true"], cwd: "../x" }, { command: ["true"], files: { "../../etc/x": "y" } }, { command: ["true"], cwd: "/etc" }]) {
    const outcome = await pool.run(request("shell", "run", { input }));
    expect(outcome.status).toBe("failed");
    expect(outcome.error?.code).toBe("input_invalid");
    expect(outcome.error?.message).toMatch(/^Cannot run shell: input\.(cwd|files key "\.\.\/\.\.\/etc\/x") must match/);
  }
  const none = await pool.run(request("shell", "run", { input: { env: {} } }));
  expect(none.error?.message).toBe("Cannot run shell: input.command is required");
});

test("shell cancel stops the whole tree, a grandchild ignoring SIGTERM included", async () => {
  const abort = new AbortController();
  const pidFile = `/tmp/edge-runner-shell-test-${process.pid}`;
  const r = request("shell", "run", {
    signal: abort.signal,
    input: { command: ["sh", "-c", `(trap "" TERM; exec sleep 300) & echo $! > ${pidFile}; echo started; trap "" TERM; sleep 300`], killGraceMs: 300 },
  });
  const running = pool.run(r);
  await waitFor(() => msgs(r).includes("started"), "the tree to start", 10_000);
  const grandchild = Number(readFileSync(pidFile, "utf8"));
  expect(existsSync(`/proc/${grandchild}`)).toBe(true);
  abort.abort("stop");
  const outcome = await running;
  expect(outcome.status).toBe("cancelled");
  const stat = existsSync(`/proc/${grandchild}/stat`) ? readFileSync(`/proc/${grandchild}/stat`, "utf8") : "";
  expect(stat === "" || / Z /.test(stat)).toBe(true);
});
