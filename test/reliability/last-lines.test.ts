// Log lines a plugin writes just before its run ends badly reach the job log, all of them and in
// order: before a crash (an uncaught error thrown from a timer, process.exit), before a timeout
// that has to terminate a worker stuck in a loop, and the last line printed without a newline.

import { afterAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const LINES = 5000;
const plugin = fileURLToPath(new URL("fixtures/last-words.ts", import.meta.url));
const { pool } = testPool({ cancelGraceMs: 50, resolve: (ref) => fileBundleSource(plugin, ref.name, "0.0.1") });
afterAll(() => pool.close());

const numbered = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);

const cases: Array<[action: string, status: string, code: string, message: string | RegExp]> = [
  // Bun delivers a worker's error event ahead of the messages it posted before: the run used to
  // settle at the error, with ~40% of the lines and "crashed" instead of the plugin's own error.
  ["uncaught", "failed", "plugin_error", /^(Uncaught error|Unhandled rejection): thrown after logging$/],
  ["exit", "failed", "plugin_exit", "Plugin called process.exit(3)"],
];
for (const [action, status, code, message] of cases) {
  test(`every line logged before "${action}" reaches the job log, and the run fails with the plugin's own error`, async () => {
    const req = request("last-words", action, { input: LINES });
    const outcome = await pool.run(req);
    expect(outcome).toMatchObject({ status, error: { code } });
    if (typeof message === "string") expect(outcome.error?.message).toBe(message);
    else expect(outcome.error?.message).toMatch(message);
    expect(req.logs.map((l) => l.msg)).toEqual(numbered);
  });
}

test("every line logged before a timeout that terminates a looping worker reaches the job log", async () => {
  await pool.prewarm("last-words@0.0.1");
  const req = request("last-words", "spin", { input: LINES, timeoutMs: 300 });
  expect(await pool.run(req)).toMatchObject({ status: "timed_out", error: { code: "plugin_timeout" } });
  expect(req.logs.map((l) => l.msg)).toEqual(numbered);
});

test("console output up to a process.exit arrives, the last line without a trailing newline too", async () => {
  const req = request("last-words", "console", { input: 3 });
  expect(await pool.run(req)).toMatchObject({ status: "failed", error: { code: "plugin_exit" } });
  expect(req.logs.map((l) => l.msg)).toEqual(["line 1", "line 2", "line 3", "no newline at the end"]);
});
