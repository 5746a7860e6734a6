// Chaos: the runner binary against a scripted hostile controller. Every session answer carries
// hostile numbers (heartbeat 0, "x", -1, 1e12; Retry-After 99999999 on some refusals) and every
// session is flooded with hostile frames (offers with odd fields, cancels and errors with huge
// texts, heartbeat_acks listing one lease 10,000 times, distinct unknown types, bad JSON, deep
// nesting, oversized batches). The runner must stay up and ready to serve its status page, with
// a bounded log, bounded memory, and no heartbeat or reconnect storm.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Hono } from "hono";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { rssMiB } from "../helpers/rss.ts";
import { assertBuilt, FLAVOURS, STATUS_URL, start, waitForOutput, type Proc } from "../helpers/processes.ts";
import { reportLine } from "./support/census.ts";
import { controllerFrame, Rng } from "./support/frames.ts";
import { CHAOS, FULL } from "./support/settings.ts";

let server: HttpServer | undefined;
let runner: Proc | undefined;
let dir: string | undefined;
afterEach(async () => {
  runner?.kill("SIGKILL");
  await runner?.exited;
  await server?.close();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  runner = undefined;
  server = undefined;
  dir = undefined;
});


test(`runner against a hostile controller: ${CHAOS.frames} frames, hostile session values; it stays up and bounded`, async () => {
  assertBuilt();
  const rng = new Rng(0xc2b2ae35);
  const jobSeq = { n: 0 };
  let sent = 0;
  let sessions = 0;
  const heartbeats: number[] = [];
  const sessionTimes: number[] = [];
  const hostileValues = [0, "x", -1, 1e12, null, 2 ** 31];
  const app = new Hono();
  app.post("/edge/v1/sessions", () => {
    sessions++;
    sessionTimes.push(Date.now());
    if (sessions % 7 === 3) return new Response("busy", { status: 503, headers: { "retry-after": "99999999" } });
    const odd = hostileValues[sessions % hostileValues.length];
    return Response.json({ v: 1, sessionId: `s${sessions}`, token: "t", heartbeatIntervalMs: odd, leaseTtlMs: odd, pollWaitMs: odd }, { status: 201 });
  });
  app.post("/edge/v1/keys", () => Response.json({ v: 1 }));
  app.get(
    "/edge/v1/sessions/:id/ws",
    upgradeWebSocket(() => ({
      onOpen(_evt, ws) {
        void (async () => {
          // A share of the frames per session, paced so the server's send buffer never drops one.
          for (let i = 0; i < 400 && sent < CHAOS.frames; i++) {
            try {
              ws.send(controllerFrame(rng, jobSeq));
            } catch {
              return;
            }
            sent++;
            if (i % 10 === 9) await Bun.sleep(3);
          }
          // Then a session ends as a restarting controller's would.
          ws.close();
        })();
      },
      onMessage(evt) {
        const value = JSON.parse(String(evt.data)) as unknown;
        for (const m of (Array.isArray(value) ? value : [value]) as Array<{ type: string }>) if (m.type === "heartbeat") heartbeats.push(Date.now());
      },
    })),
  );
  server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-runner-fuzz-"));
  fs.writeFileSync(path.join(dir, "key"), "k".repeat(32), { mode: 0o600 });
  runner = start(FLAVOURS[0]!, [
    "run", "--runner-id", "r1", "--api-key-file", path.join(dir, "key"), "--controller-url", server.url, "--status-port", "0",
    "--start-jitter", "0", "--reconnect-min", "100ms", "--reconnect-max", "2s", "--transport", "websocket", "--data-dir", path.join(dir, "data"),
  ]);
  const statusUrl = await waitForOutput(runner, STATUS_URL, 30_000);
  const pid = runner.child.pid as number;
  await Bun.sleep(500);
  const rssBefore = rssMiB(pid);
  const started = Date.now();
  const deadline = started + (FULL ? 1_200_000 : 60_000);
  while (sent < CHAOS.frames && Date.now() < deadline && runner.child.exitCode === null) await Bun.sleep(100);
  await Bun.sleep(1000);
  expect(runner.child.exitCode).toBeNull();
  const rssAfter = rssMiB(pid);
  const seconds = (Date.now() - started) / 1000;
  const health = await fetch(`${statusUrl}/healthz`);
  const logBytes = runner.output().length;
  // Heartbeats: at most one a second per session (the clamp's floor) plus one per session start
  // and a liveness probe; the storm this replaced was 700-850 a second.
  const perSecond = heartbeats.length / seconds;
  const sessionsPerSecond = sessions / seconds;
  reportLine(`runner vs hostile controller: ${sent} frames, ${sessions} sessions in ${seconds.toFixed(0)} s; runner RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB; ` +
    `log ${(logBytes / 1024).toFixed(0)} KiB; ${perSecond.toFixed(1)} heartbeats/s; ${sessionsPerSecond.toFixed(1)} sessions/s; /healthz ${health.status}`);
  expect(sent).toBeGreaterThanOrEqual(CHAOS.frames);
  expect(health.status).toBeLessThan(500);
  expect(perSecond).toBeLessThan(10);
  // Reconnects are paced by the backoff floor's jitter, never a tight loop (was ~500 attempts/s).
  expect(sessionsPerSecond).toBeLessThan(20);
  expect(logBytes).toBeLessThan((FULL ? 20 : 4) * 1024 * 1024);
  expect(rssAfter - rssBefore).toBeLessThan(FULL ? 300 : 200);
}, FULL ? 1_500_000 : 120_000);
