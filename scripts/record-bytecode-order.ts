// Records the profiles the executable's bytecode is laid out by (scripts/build.ts,
// `bytecodeOrder`): Bun writes the functions a run of a `--bytecode` executable used to
// BUN_BYTECODE_ORDER_OUT at exit, and a build given those files puts that bytecode together at
// the front, so a start touches fewer pages of the executable (docs/performance.md, start-up,
// sixth pass). Recorded here from the starts that matter, most important first:
//   run.order         `edge-runner run` from spawn to /readyz 200, then its first job (echo)
//   version.order     `edge-runner --version` (every short command starts the same way)
//   controller.order  `edge-runner controller` to its first served job
// A profile from an older build still applies (Bun's docs: entries are hashes, what no longer
// matches is ignored and laid out after), so re-record after large changes to the start path:
//   bun scripts/build.ts --skip-bundle && bun scripts/record-bytecode-order.ts [--binary=PATH]
// and commit scripts/bytecode-order/.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { freePort, sleep, waitFor200 } from "./bench/processes.ts";

const root = new URL("..", import.meta.url).pathname;
export const BYTECODE_ORDER_DIR = path.join(root, "scripts", "bytecode-order");
/** The profiles, most important start first (the order the build passes them to Bun). */
export const BYTECODE_ORDER_FILES = ["run.order", "version.order", "controller.order"];

async function main(): Promise<void> {
  const binary = process.argv.find((a) => a.startsWith("--binary="))?.slice("--binary=".length) ?? path.join(root, "dist", "edge-runner");
  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-bytecode-order-"));
  const children: ChildProcess[] = [];
  const start = (args: string[], order: string): ChildProcess => {
    const child = spawn(binary, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, BUN_BYTECODE_ORDER_OUT: path.join(dir, order) } });
    children.push(child);
    return child;
  };
  const stop = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  const run = (args: string[], env: Record<string, string> = {}) => {
    const result = spawnSync(binary, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...env } });
    if (result.status !== 0) throw new Error(`"edge-runner ${args.join(" ")}" exited ${result.status}`);
  };
  try {
    const controllerPort = await freePort();
    const controllerUrl = `http://127.0.0.1:${controllerPort}`;
    const controllerDir = path.join(dir, "controller-data");
    const controller = start(["controller", "--data-dir", controllerDir, "--listen-port", String(controllerPort), "--log-level", "warn"], "controller.order");
    await waitFor200(`${controllerUrl}/api/v1/health`, 10_000, "the controller's /api/v1/health");
    const keyFile = path.join(dir, "runner.key");
    run(["runner", "register", "recorder", "--api-key-out", keyFile, "--controller-url", controllerUrl, "--data-dir", controllerDir]);
    run(["keygen", "--data-dir", path.join(dir, "runner-data")]);
    const statusPort = await freePort();
    const runner = start(["run", "--runner-id", "recorder", "--api-key-file", keyFile, "--controller-url", controllerUrl, "--status-port", String(statusPort), "--start-jitter", "0", "--data-dir", path.join(dir, "runner-data"), "--log-level", "warn"], "run.order");
    await waitFor200(`http://127.0.0.1:${statusPort}/readyz`, 10_000, "the runner's /readyz", 2);
    const admin = readFileSync(path.join(controllerDir, "controller", "admin-token"), "utf8").trim();
    const api = (p: string, init?: RequestInit) => fetch(`${controllerUrl}/api/v1${p}`, { ...init, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" } });
    const submitted = (await (await api("/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", action: "default", input: { n: 1 } }) })).json()) as { id: string };
    const done = (await (await api(`/jobs/${submitted.id}/wait?timeoutMs=20000`)).json()) as { status: string };
    if (done.status !== "succeeded") throw new Error(`The recording's echo job ended ${done.status}`);
    await sleep(100);
    await stop(runner);
    await stop(controller);
    run(["--version"], { BUN_BYTECODE_ORDER_OUT: path.join(dir, "version.order") });
    mkdirSync(BYTECODE_ORDER_DIR, { recursive: true });
    for (const name of BYTECODE_ORDER_FILES) {
      const text = readFileSync(path.join(dir, name), "utf8");
      if (!text.startsWith("v2\n")) throw new Error(`Bun wrote ${name} in a form this script does not know: ${JSON.stringify(text.slice(0, 20))}`);
      renameSync(path.join(dir, name), path.join(BYTECODE_ORDER_DIR, name));
      console.log(`recorded scripts/bytecode-order/${name}: ${text.split("\n").length - 2} entries`);
    }
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
