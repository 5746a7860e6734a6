// Built-in "shell": runs one command (argv, or a script with an explicit interpreter) in a fresh
// working directory, streams its output as log lines while it runs, and maps its exit code to the
// result. The command leads its own process group: cancel and timeout stop the whole tree
// (SIGTERM, grace, SIGKILL), and whatever is left when the command exits is stopped too.

import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { EdgeError } from "../../../errors.ts";
import { childProcessModule } from "../../processes/child-tracking.ts";
import { stopProcessGroups } from "../../processes/process-group.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { checkInput } from "../input-schema.ts";
import { insideDir } from "../work-dir.ts";
import { LineStream, OutputBudget } from "./line-stream.ts";
import { SHELL_INPUT } from "./schema.ts";

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

const STDOUT_TAIL = 64 * 1024;

async function run(raw: unknown, ctx: ActionContext): Promise<ShellOutput> {
  checkInput(SHELL_INPUT, raw, "shell");
  const input = raw as ShellInput;
  const workDir = await mkdtemp(join(tmpdir(), "edge-runner-shell-"));
  try {
    await chmod(workDir, 0o700);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: workDir, TMPDIR: workDir, LANG: process.env.LANG ?? "C.UTF-8", ...input.env };
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
      const scriptFile = join(scriptDir, "script");
      await writeFile(scriptFile, input.script ?? "", { mode: 0o600 });
      argv = [...(input.interpreter ?? []), scriptFile];
      try {
        return await execute(argv, { env, cwd, input, ctx });
      } finally {
        await rm(scriptDir, { recursive: true, force: true });
      }
    }
    return await execute(argv, { env, cwd, input, ctx });
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface ExecuteOptions {
  env: Record<string, string>;
  cwd: string;
  input: ShellInput;
  ctx: ActionContext;
}

function execute(argv: string[], { env, cwd, input, ctx }: ExecuteOptions): Promise<ShellOutput> {
  const [program, ...args] = argv as [string, ...string[]];
  const label = `"${program}"`;
  const graceMs = input.killGraceMs ?? 1000;
  ctx.step({ id: "command", name: `Run ${program}`, status: "running" });
  return new Promise<ShellOutput>((resolve, reject) => {
    if (ctx.signal.aborted) return reject(new EdgeError("job_cancelled", `Cannot run ${label}: the job was cancelled`));
    // Looked up at run time, not imported: a static import would pin the unpatched functions in
    // a Bun bundle (see child-tracking.ts).
    const child = childProcessModule().spawn(program, args, { cwd, env, detached: true, stdio: [input.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const budget = new OutputBudget(input.outputMaxBytes ?? 10 * 1024 * 1024, (limit) => ctx.log.warn(`[output truncated: more than ${limit} bytes; the rest is not logged]`));
    let tail = "";
    const out = new LineStream((line) => ctx.log.info(line), budget);
    const err = new LineStream((line) => ctx.log.warn(line), budget);
    child.stdout?.on("data", (chunk: Buffer) => {
      out.write(chunk);
      if (input.captureStdout === true) tail = (tail + chunk.toString()).slice(-STDOUT_TAIL);
    });
    child.stderr?.on("data", (chunk: Buffer) => err.write(chunk));
    if (input.stdin !== undefined && child.stdin !== null) {
      child.stdin.on("error", () => undefined); // EPIPE when the command does not read its input
      child.stdin.end(input.stdin);
    }
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= child.pid === undefined ? Promise.resolve() : stopProcessGroups([child.pid], { graceMs }));
    const onAbort = (): void => void stop();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    child.once("error", (error: NodeJS.ErrnoException) => {
      ctx.signal.removeEventListener("abort", onAbort);
      ctx.step({ id: "command", status: "failed", message: error.message });
      reject(new EdgeError("input_invalid", `Cannot start ${label}: ${error.code === "ENOENT" ? "no such program" : error.message}`));
    });
    child.once("close", (code, signal) => {
      ctx.signal.removeEventListener("abort", onAbort);
      out.end();
      err.end();
      // Background processes the command left behind belong to the job too.
      void stop().then(() => {
        const exitCode = code ?? 128 + signalNumber(signal);
        ctx.outputs.set("exitCode", exitCode);
        if (ctx.signal.aborted) {
          ctx.step({ id: "command", status: "failed", message: "cancelled" });
          return reject(new EdgeError("job_cancelled", `Command ${label} stopped: the job was cancelled`));
        }
        const output: ShellOutput = { exitCode, truncated: budget.truncated };
        if (input.captureStdout === true) output.stdout = tail;
        if (exitCode === 0) {
          ctx.step({ id: "command", status: "succeeded" });
          return resolve(output);
        }
        const why = signal === null ? `exited with code ${exitCode}` : `was killed by ${signal}`;
        ctx.step({ id: "command", status: "failed", message: why });
        reject(new EdgeError("command_failed", `Command ${label} ${why}`));
      });
    });
  });
}

async function writeInside(dir: string, path: string, content: string, mode: number): Promise<void> {
  const file = insideDir(dir, path, "files");
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content, { mode });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}

export default definePlugin({ name: "shell", version: "1.0.0", actions: { default: run, run } });
