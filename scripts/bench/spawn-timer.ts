// Times a child process: from spawn() to its first stdout line and to its exit.

import { spawn } from "node:child_process";

export interface SpawnTiming {
  firstLineMs: number;
  exitMs: number;
  firstLine: string;
}

export function timeSpawn(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<SpawnTiming> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    let firstLineAt: number | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (firstLineAt === undefined && stdout.includes("\n")) firstLineAt = performance.now();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start "${command}": ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const exitAt = performance.now();
      if (code !== 0 || firstLineAt === undefined) {
        reject(new Error(`Cannot time "${command} ${args.join(" ")}": exit ${code ?? signal}, stderr: ${stderr.trim().slice(0, 300)}`));
        return;
      }
      resolve({ firstLineMs: firstLineAt - startedAt, exitMs: exitAt - startedAt, firstLine: stdout.split("\n")[0] ?? "" });
    });
  });
}
