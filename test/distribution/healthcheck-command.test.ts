// `edge-runner healthcheck` with a fake fetch and a fake clock: no port, no real waiting.

import { expect, test } from "bun:test";
import { createHealthcheckCommand } from "../../src/cli/healthcheck-command.ts";
import type { Timers } from "../../src/util/time.ts";

function fakeTimers(): Pick<Timers, "now" | "sleep"> & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
}

function harness(answers: Array<number | Error>) {
  const urls: string[] = [];
  const timers = fakeTimers();
  const out: string[] = [], err: string[] = [];
  const fetcher = (async (url: string | URL | Request) => {
    urls.push(String(url));
    const next = answers.length > 1 ? answers.shift()! : answers[0]!;
    if (next instanceof Error) throw next;
    return new Response(next === 200 ? "ok" : "not ready", { status: next });
  }) as typeof fetch;
  const command = createHealthcheckCommand({ env: { EDGE_RUNNER_STATUS_PORT: "9999" }, fetch: fetcher, timers, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { command, urls, timers, out, err };
}

test("healthcheckCommand asks /readyz once without --wait", async () => {
  const ok = harness([200]);
  expect(await ok.command.run([])).toBe(0);
  expect(ok.urls).toEqual(["http://127.0.0.1:9999/readyz"]);
  const down = harness([503]);
  expect(await down.command.run([])).toBe(69);
  expect(down.err.join("")).toContain("http://127.0.0.1:9999/readyz: HTTP 503: not ready");
});

test("healthcheckCommand --wait polls /healthz until it answers 200", async () => {
  const h = harness([new Error("Connection refused"), 503, 200]);
  expect(await h.command.run(["--wait", "--timeout", "90s"])).toBe(0);
  expect(h.urls).toEqual(Array(3).fill("http://127.0.0.1:9999/healthz"));
  expect(h.timers.slept).toEqual([500, 500]);
});

test("healthcheckCommand --wait gives up after --timeout with the last reason", async () => {
  const h = harness([503]);
  expect(await h.command.run(["--wait", "--timeout", "2s"])).toBe(69);
  expect(h.timers.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2000);
  expect(h.err.join("")).toContain("HTTP 503: not ready (waited 2 s)");
});

test("healthcheckCommand rejects a bad --path and --timeout with exit 64", async () => {
  const h = harness([200]);
  expect(await h.command.run(["--path", "/metrics"])).toBe(64);
  expect(h.err.join("")).toContain('invalid value "/metrics" for "--path"');
  expect(await h.command.run(["--wait", "--timeout", "soon"])).toBe(64);
  expect(h.urls).toEqual([]);
});
