// Runs one command for a plugin: the child leads its own process group, its output arrives as
// lines while it runs (under one byte budget, with one truncation marker), and cancel stops the
// whole group (SIGTERM, grace, SIGKILL). What the command leaves running when it exits is stopped
// too. Used by the shell and terraform plugins.

import { constants } from "node:os";
import { EdgeError } from "../../errors.ts";
import { childProcessModule } from "./child-tracking.ts";
import { LineStream, OutputBudget } from "./line-stream.ts";
import { stopProcessGroups } from "./process-group.ts";

export interface RunCommandOptions {
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  signal: AbortSignal;
  stdin?: string;
  /** After cancel: SIGTERM, this long, then SIGKILL (default 1000). */
  graceMs?: number;
  /** Shared across the commands of one job when given, so the cap holds for the whole job. */
  budget?: OutputBudget;
  /** The longest stdout line passed on whole (default LINE_MAX, 16 Ki characters); longer ones come in pieces. */
  stdoutLineMax?: number;
  onStdout(line: string): void;
  onStderr(line: string): void;
  /** Raw stdout bytes as they come (the shell plugin keeps a tail). */
  onStdoutChunk?(chunk: Uint8Array): void;
}

export interface CommandExit {
  /** The exit code, or 128 + the signal number when a signal ended it. */
  code: number;
  signal: NodeJS.Signals | null;
  cancelled: boolean;
}

/** Rejects only when the program cannot be started (code `input_invalid`). */
export function runCommand(options: RunCommandOptions): Promise<CommandExit> {
  const [program, ...args] = options.argv as [string, ...string[]];
  const budget = options.budget ?? new OutputBudget(10 * 1024 * 1024, () => undefined);
  return new Promise<CommandExit>((resolve, reject) => {
    if (options.signal.aborted) return resolve({ code: 130, signal: null, cancelled: true });
    // Looked up at run time, not imported: a static import would pin the unpatched functions in
    // a Bun bundle (see child-tracking.ts).
    const child = childProcessModule().spawn(program, args, { cwd: options.cwd, env: options.env, detached: true, stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out = new LineStream(options.onStdout, budget, options.stdoutLineMax);
    const err = new LineStream(options.onStderr, budget);
    child.stdout?.on("data", (chunk: Buffer) => {
      out.write(chunk);
      options.onStdoutChunk?.(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => err.write(chunk));
    if (options.stdin !== undefined && child.stdin !== null) {
      child.stdin.on("error", () => undefined); // EPIPE when the command does not read its input
      child.stdin.end(options.stdin);
    }
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= child.pid === undefined ? Promise.resolve() : stopProcessGroups([child.pid], { graceMs: options.graceMs ?? 1000 }));
    const onAbort = (): void => void stop();
    options.signal.addEventListener("abort", onAbort, { once: true });
    child.once("error", (error: NodeJS.ErrnoException) => {
      options.signal.removeEventListener("abort", onAbort);
      reject(new EdgeError("input_invalid", `Cannot start "${program}": ${error.code === "ENOENT" ? "no such program" : error.message}`));
    });
    child.once("close", (code, signal) => {
      options.signal.removeEventListener("abort", onAbort);
      out.end();
      err.end();
      // Background processes the command left behind belong to the job too.
      void stop().then(() => resolve({ code: code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)), signal, cancelled: options.signal.aborted }));
    });
  });
}

export { OutputBudget };
