// The PostgreSQL test server is shared by every test file of one `bun test` process. A test that
// stops it (a restart under load) and fails before starting it again must not take every later
// PostgreSQL test down with it: the fixture starts a stopped server before the next test. The
// watchdog that stops the server once the test process is gone must survive bun test killing the
// file's processes when a test times out (a failed restart test left its server running for good).

import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { eventually, tempDir } from "../helpers/harness.ts";
import { stopWhenProcessExits } from "../helpers/postgres-server.ts";
import { forEachStore } from "../helpers/stores.ts";

test("the watchdog of a shared server is nobody's child, and stops the server and removes its directory once the process it watches is gone", async () => {
  const tmp = tempDir();
  const data = path.join(tmp.dir, "data");
  mkdirSync(data);
  const pidFile = path.join(data, "postmaster.pid");
  // Stand-ins: a "postmaster" that removes its pid file on SIGINT, and the watched test process.
  const postmaster = spawn("sh", ["-c", `trap 'rm -f ${pidFile}; exit 0' INT; while :; do sleep 0.1; done`], { stdio: "ignore" });
  writeFileSync(pidFile, `${postmaster.pid}\n`);
  const watched = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const launcher = stopWhenProcessExits({ dir: tmp.dir }, watched.pid);
    // A child of this process would be killed with the file's processes: it must be gone already.
    await eventually(() => (launcher.exitCode !== null ? true : undefined), 3_000, "the watchdog's launcher exited while the watched process lives");
    expect(existsSync(pidFile)).toBe(true);
    watched.kill();
    await eventually(() => (existsSync(tmp.dir) ? undefined : true), 10_000, "the directory removed once the watched process is gone");
    await eventually(() => (postmaster.exitCode !== null ? true : undefined), 5_000, "the stand-in server stopped");
  } finally {
    watched.kill();
    postmaster.kill("SIGKILL");
    tmp.remove();
  }
});

forEachStore("the shared PostgreSQL test server", (store) => {
  test("a test stops the server and leaves it stopped (as a failed restart test would)", async () => {
    await store.options();
    await store.server!.stopAsync();
    expect(store.server!.running()).toBe(false);
  });

  test("the next test finds it running again", async () => {
    await store.options();
    const [row] = await store.sql()<Array<{ one: number }>>`SELECT 1 AS one`;
    expect(row?.one).toBe(1);
  });
}, ["postgres"]);
