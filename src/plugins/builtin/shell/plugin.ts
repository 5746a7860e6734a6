// Built-in "shell": runs one command (argv, or a script with an explicit interpreter) in a fresh
// working directory, streams its output as log lines while it runs, and maps its exit code to the
// result. The command leads its own process group: cancel and timeout stop the whole tree
// (SIGTERM, grace, SIGKILL), and whatever is left when the command exits is stopped too.

import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { EdgeError, errorMessage } from "../../../errors.ts";
import { proxyVariables } from "../../../platform/proxy.ts";
import { OutputBudget, runCommand } from "../../processes/run-command.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { checkInput } from "../input-schema.ts";
import { insideDir } from "../work-dir.ts";
import { SHELL_INPUT } from "./schema.ts";
import { StdoutTail } from "./stdout-tail.ts";

interface ShellInput {
  command?: string[];
  script?: string;
  interpreter?: string[];
  env?: Record<string, string>;
  secretEnv?: Record<string, string>;
  files?: Record<string, string>;
  secretFiles?: Record<string, string>;
  cwd?: string;
  stdin?: string;
  outputMaxBytes?: number;
  killGraceMs?: number;
  captureStdout?: boolean;
}

export interface ShellOutput {
  exitCode: number;
  stdout?: string;
  truncated: boolean;
}

async function run(raw: unknown, ctx: ActionContext): Promise<ShellOutput> {
  checkInput(SHELL_INPUT, raw, "shell");
  const input = raw as ShellInput;
  const workDir = await mkdtemp(join(tmpdir(), "edge-runner-shell-"));
  const scratch: string[] = [workDir];
  try {
    await chmod(workDir, 0o700);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: workDir, TMPDIR: workDir, LANG: process.env.LANG ?? "C.UTF-8", ...proxyVariables(), ...input.env };
    for (const [name, ref] of Object.entries(input.secretEnv ?? {})) env[name] = await ctx.secrets.get(ref);
    for (const [path, content] of Object.entries(input.files ?? {})) await writeInside(workDir, path, content, 0o644);
    for (const [path, ref] of Object.entries(input.secretFiles ?? {})) await writeInside(workDir, path, await ctx.secrets.get(ref), 0o600);
    const cwd = input.cwd === undefined ? workDir : insideDir(workDir, input.cwd, "cwd");
    await mkdir(cwd, { recursive: true });
    let argv: string[];
    if (input.command !== undefined) argv = input.command;
    else {
      // Outside the working directory so the job's own files cannot be confused with it.
      const scriptDir = await mkdtemp(join(tmpdir(), "edge-runner-script-"));
      scratch.push(scriptDir);
      const scriptFile = join(scriptDir, "script");
      await writeFile(scriptFile, input.script ?? "", { mode: 0o600 });
      argv = [...(input.interpreter ?? []), scriptFile];
    }
    return await execute(argv, cwd, env, input, ctx);
  } finally {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function execute(argv: string[], cwd: string, env: Record<string, string>, input: ShellInput, ctx: ActionContext): Promise<ShellOutput> {
  const label = `"${argv[0]}"`;
  ctx.step({ id: "command", name: `Run ${argv[0]}`, status: "running" });
  const budget = new OutputBudget(input.outputMaxBytes ?? 10 * 1024 * 1024, (limit) => ctx.log.warn(`[output truncated: more than ${limit} bytes; the rest is not logged]`));
  const tail = input.captureStdout === true ? new StdoutTail() : undefined;
  let exit;
  try {
    exit = await runCommand({
      argv, cwd, env, budget,
      signal: ctx.signal,
      graceMs: input.killGraceMs ?? 1000,
      ...(input.stdin === undefined ? {} : { stdin: input.stdin }),
      onStdout: (line) => ctx.log.info(line),
      onStderr: (line) => ctx.log.warn(line),
      ...(tail === undefined ? {} : { onStdoutChunk: (chunk: Uint8Array) => tail.write(chunk) }),
    });
  } catch (error) {
    ctx.step({ id: "command", status: "failed", message: errorMessage(error) });
    throw error;
  }
  ctx.outputs.set("exitCode", exit.code);
  if (exit.cancelled) {
    ctx.step({ id: "command", status: "failed", message: "cancelled" });
    throw new EdgeError("job_cancelled", `Command ${label} stopped: the job was cancelled`);
  }
  const output: ShellOutput = { exitCode: exit.code, truncated: budget.truncated };
  if (tail !== undefined) output.stdout = tail.end();
  if (exit.code === 0) {
    ctx.step({ id: "command", status: "succeeded" });
    return output;
  }
  const why = exit.signal === null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
  ctx.step({ id: "command", status: "failed", message: why });
  throw new EdgeError("command_failed", `Command ${label} ${why}`);
}

async function writeInside(dir: string, path: string, content: string, mode: number): Promise<void> {
  const file = insideDir(dir, path, "files");
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content, { mode });
}

export default definePlugin({ name: "shell", version: "1.0.0", actions: { default: run, run } });
