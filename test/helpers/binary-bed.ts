// What every test of the built executable starts and ends with: the build is there (unless
// EDGE_RUNNER_TEST_BINARY names another one, e.g. in /tmp while dist/ is in use), a temporary
// folder of its own, and at the end every process it started killed and the folder removed.

import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CONTROLLER_URL, FLAVOURS, assertBuilt, start, waitForHttp, waitForOutput, type Flavour, type Proc } from "./processes.ts";

/** The compiled binary, or the one EDGE_RUNNER_TEST_BINARY names. */
export const TEST_BINARY: Flavour = process.env.EDGE_RUNNER_TEST_BINARY === undefined ? (FLAVOURS[0] as Flavour) : { name: "test binary", command: [process.env.EDGE_RUNNER_TEST_BINARY] };

export interface BinaryBed {
  /** The test file's temporary folder (from its beforeAll on). */
  readonly dir: string;
  /** Push every started process here: afterAll kills what is still running. */
  readonly procs: Proc[];
}

/** Registers the file's beforeAll/afterAll; call it at the top level of a test file. */
export function binaryBed(prefix: string): BinaryBed {
  const procs: Proc[] = [];
  let dir: string | undefined;
  beforeAll(() => {
    if (process.env.EDGE_RUNNER_TEST_BINARY === undefined) assertBuilt();
    dir = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir(): string {
      if (dir === undefined) throw new Error("binaryBed(): the folder exists from beforeAll on");
      return dir;
    },
    procs,
  };
}

export interface LaunchedController {
  proc: Proc;
  url: string;
  /** `--controller-url URL --data-dir DIR`: what a CLI command against it needs. */
  common: string[];
}

/** A reference controller process on a free port (or `port`), answering its health endpoint. */
export async function launchController(flavour: Flavour, procs: Proc[], dataDir: string, options: { port?: number | undefined; extra?: string[]; timeoutMs?: number } = {}): Promise<LaunchedController> {
  const proc = start(flavour, ["controller", "--data-dir", dataDir, "--listen-port", String(options.port ?? 0), ...(options.extra ?? [])]);
  procs.push(proc);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const url = await waitForOutput(proc, CONTROLLER_URL, timeoutMs);
  await waitForHttp(`${url}/api/v1/health`, timeoutMs, (s) => s < 500);
  return { proc, url, common: ["--controller-url", url, "--data-dir", dataDir] };
}
