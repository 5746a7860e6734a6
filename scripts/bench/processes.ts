// Child processes of the bench: start the executable, stop it by its own pid (SIGTERM, then
// SIGKILL after 10 s), wait for an HTTP 200, read its RSS, find a free loopback port.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startChild(binary: string, args: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  child.on("exit", (code, signal) => {
    if (code !== 0 && code !== null) process.stderr.write(`bench: "${path.basename(binary)} ${args[0]}" exited ${code ?? signal}: ${stderr.trim()}\n`);
  });
  return child;
}

/** SIGTERM (the runner drains), then SIGKILL if it has not exited within 10 s. */
export async function stopChild(child: ChildProcess, children: Set<ChildProcess>): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(killer);
}

export async function waitFor200(url: string, timeoutMs: number, what: string, pollMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error(`Cannot start the bench: ${what} did not answer 200 within ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

export function vmRss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`Cannot read the RSS of process ${pid}`);
  return Number(match[1]) * 1024;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("Cannot find a free port"))));
    });
  });
}
