// What every test of the built executable starts and ends with: the build is there (unless
// EDGE_RUNNER_TEST_BINARY names another one, e.g. in /tmp while dist/ is in use), a temporary
// folder of its own, and at the end every process it started killed and the folder removed.

import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLAVOURS, assertBuilt, type Flavour, type Proc } from "./processes.ts";

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
