// Spawning the built executable (compiled binary, or the bundle under Node or Deno) in tests:
// free ports, waiting for readiness, collecting output, and always killing what was started.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync } from "node:fs";

const root = new URL("../..", import.meta.url).pathname;

export interface Flavour {
  name: string;
  command: string[];
}

/** The three ways the product runs: the compiled binary, and the ESM bundle on Node and on Deno. */
export const FLAVOURS: Flavour[] = [
  { name: "compiled binary", command: [`${root}dist/edge-runner`] },
  { name: "bundle on Node", command: [process.env.NODE_BINARY ?? "node", `${root}dist/node/edge-runner.mjs`] },
  { name: "bundle on Deno", command: [`${root}node_modules/.bin/deno`, "run", "-A", "--quiet", `${root}dist/node/edge-runner.mjs`] },
];

export function assertBuilt(): void {
  for (const file of ["dist/edge-runner", "dist/node/edge-runner.mjs", "dist/node/worker-entry.mjs"]) {
    if (!existsSync(root + file)) throw new Error(`Missing ${file}: run "npm run build" (npm test does it first)`);
  }
}

/** Waits until the process prints something matching `pattern`; returns the first capture group. */
export async function waitForOutput(proc: Proc, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(proc.output());
    if (match !== null) return match[1] ?? match[0];
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`Process never printed ${pattern} (${proc.child.exitCode !== null ? `exited ${proc.child.exitCode}` : "timed out"}); output:\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The controller's URL from its start-up line (start it with --listen-port 0). */
export const CONTROLLER_URL = /Reference controller listening on (https?:\/\/\S+)/;
/** The runner's status page base URL from its start-up log line (start it with --status-port 0). */
export const STATUS_URL = /Status page on (http:\/\/[^/"\s]+)\//;

/**
 * A port that was free a moment ago. Racy (another process may take it before it is used), so
 * prefer port 0 and the announced URL; use it only where a fixed port is the point (a restart).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export function start(flavour: Flavour, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Proc {
  const [cmd, ...pre] = flavour.command as [string, ...string[]];
  const child = spawn(cmd, [...pre, ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, EDGE_RUNNER_LOG_FORMAT: "json", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? (signal ? 128 : null));
    }),
  );
  return { child, output: () => out, exited, kill: (signal = "SIGTERM") => child.kill(signal) };
}

/** Runs a command to its end and returns its exit code and output. */
export async function runToEnd(flavour: Flavour, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; output: string }> {
  const proc = start(flavour, args, options);
  const code = await proc.exited;
  return { code, output: proc.output() };
}

export async function waitForHttp(url: string, timeoutMs = 20_000, accept: (status: number) => boolean = (s) => s === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (accept(response.status)) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${url} (${last})`);
}
