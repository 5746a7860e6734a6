// The status page's states (issue 14 items 2 and 7) through app.request: each says what it is,
// busy is not an alarm, and a runner that never connected is not "disconnected since" a retry.

import { expect, test } from "bun:test";
import { createStatusApp } from "../../src/status/app.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { Redactor } from "../../src/log/redact.ts";
import { STATUS_STATES, stateSnapshot, type StatusState } from "./states.ts";
import { NOW } from "./fixtures.ts";

const app = (state: StatusState) => createStatusApp({ snapshot: () => stateSnapshot(state, NOW), metrics: new RunnerMetrics(), redactor: new Redactor() });
/** The page's HTML without its script (which holds every label the renderer knows). */
const page = async (state: StatusState) => {
  const res = await app(state).request("/");
  expect(res.status).toBe(200);
  return (await res.text()).replace(/<script>[\s\S]*<\/script>/, "");
};
/** The readiness card's chip: `<span class="chip t-TONE">LABEL</span>` inside the "big" line. */
const readinessChip = (html: string) => /<div class="label">Readiness<\/div><div class="big"><span class="chip t-(\w+)">([^<]+)<\/span>/.exec(html)?.slice(1, 3);
const pageTone = (html: string) => /<div class="brand"><span class="dot t-(\w+)">/.exec(html)?.[1];

test("status page: each state has its own readiness label and tone", async () => {
  const seen: Record<string, [string | undefined, string | undefined, string | undefined]> = {};
  for (const state of STATUS_STATES) {
    const html = await page(state);
    const [tone, label] = readinessChip(html) ?? [];
    seen[state] = [label, tone, pageTone(html)];
  }
  expect(seen).toEqual({
    idle: ["Ready", "ok", "ok"],
    busy: ["Busy", "info", "ok"],
    "never-connected": ["Not connected", "bad", "bad"],
    unauthorized: ["Unauthorized", "bad", "bad"],
    draining: ["Draining", "warn", "warn"],
  });
});

test("status page: never connected says how long it has been trying and the last error, not 'disconnected since'", async () => {
  const html = await page("never-connected");
  expect(html).toContain("Never connected");
  expect(html).toContain("trying for 31 s");
  expect(html).toContain("6 failed attempts");
  expect(html).toContain("last error: Cannot reach https://automation.example.com/edge/v1/sessions");
  expect(html).not.toContain("Disconnected");
  expect(html).not.toMatch(/\d+ reconnects?/);
  const ready = await app("never-connected").request("/readyz");
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ ready: false, kind: "never_connected", reason: "never connected (trying for 31 s)" });
  const doc = (await (await app("never-connected").request("/status")).json()) as { connection: Record<string, unknown> };
  expect(doc.connection).toMatchObject({ neverConnected: true, downMs: 31_000, reconnects: 0, failedAttempts: 6 });
});

test("status page: busy is healthy work, unauthorized is broken, draining is neither, and /readyz names each", async () => {
  const kinds: Record<string, unknown> = {};
  for (const state of ["busy", "unauthorized", "draining"] as const) kinds[state] = ((await (await app(state).request("/readyz")).json()) as { kind: string }).kind;
  expect(kinds).toEqual({ busy: "busy", unauthorized: "unauthorized", draining: "draining" });
  expect(await page("busy")).toContain("Every slot runs a job");
  expect(await page("unauthorized")).toContain("Takes no jobs until the controller accepts its API key");
});

test("status page: the recent-results table wraps long errors instead of widening past the page", async () => {
  const html = await page("idle");
  // The error cell is the only unbounded text: at any width it wraps (two lines at most) instead of
  // pushing the Finished column out of view (seen at 1280 px in headless Chromium).
  const rule = /\n\.errcell\{([^}]*)\}/.exec(html)?.[1] ?? "";
  expect(rule).toContain("white-space:normal");
  expect(rule).toContain("-webkit-line-clamp:2");
  expect(rule).not.toContain("max-width");
  expect(html).toContain("api error AccessDenied");
});

test("status page: every worker with a reported heap shows it in the MEMORY column", async () => {
  const html = await page("busy");
  for (const text of ["182.0 MiB", "41.0 MiB", "23.0 MiB"]) expect(html).toContain(text);
});
