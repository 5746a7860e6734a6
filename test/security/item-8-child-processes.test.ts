// Issue 8 item 8: a plugin's child processes end with its job. A plugin starts a child through
// node:child_process directly, whose grandchild ignores SIGTERM; after success, timeout and
// cancel no process of the job is left (/proc), in thread and in process isolation, through the
// compiled binary (`plugin run`), and the bundle on Node and on Deno.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLAVOURS, assertBuilt, start, waitForOutput, type Flavour } from "../helpers/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
// The compiled binary (Bun) and the bundle on Node and on Deno: their child_process modules differ.
const flavours = FLAVOURS;
let dir: string;
let bundle: string;

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-children-"));
  const { build } = await import("esbuild");
  bundle = path.join(dir, "spawner.mjs");
  await build({ entryPoints: [path.join(root, "test/security/fixtures/spawner.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "warning" });
});
afterAll(() => {
  for (const pid of marked("")) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Live processes whose environment carries EDGE_TEST_MARK=<mark> (any mark when empty). */
function marked(mark: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      if (state === "Z" || state === "X") continue;
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.some((v) => (mark === "" ? v.startsWith("EDGE_TEST_MARK=") : v === `EDGE_TEST_MARK=${mark}`))) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function runCase(binary: Flavour, isolation: "thread" | "process", ending: "success" | "timeout" | "cancel"): Promise<{ output: string; during: number[]; tree: number[]; after: number[] }> {
  const mark = randomUUID();
  const action = ending === "success" ? "leave" : "hang";
  const args = ["plugin", "run", bundle, "--name", "spawner", "--version", "0.0.1", "--action", action, "--input", `mark=${mark}`, "--isolation", isolation, "--timeout", ending === "timeout" ? "3s" : "60s"];
  const proc = start(binary, args, { cwd: dir });
  const tree = (await waitForOutput(proc, /tree started: (\d+ \d+)/, 30_000)).split(" ").map(Number);
  const during = marked(mark);
  if (ending === "cancel") proc.kill("SIGINT");
  await proc.exited;
  return { output: proc.output(), during, tree, after: [...marked(mark), ...tree.filter(alive)] };
}

for (const binary of flavours) {
  for (const isolation of ["thread", "process"] as const) {
    for (const ending of ["success", "timeout", "cancel"] as const) {
      test(`${binary.name}: plugin run --isolation ${isolation}: after ${ending}, no process the job started is left (grandchild ignores SIGTERM)`, async () => {
        const { output, during, tree, after } = await runCase(binary, isolation, ending);
        expect(tree.every((pid) => pid > 1)).toBe(true);
        // Running while the job ran (a successful job may already be cleaning up).
        if (ending !== "success") expect(during.sort()).toEqual(tree.sort());
        expect(after).toEqual([]);
        if (ending === "timeout") expect(output).toContain("timed_out");
        if (ending === "cancel") expect(output).toContain("cancelled");
      }, 60_000);
    }
  }
}
