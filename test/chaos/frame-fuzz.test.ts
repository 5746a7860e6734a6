// Chaos: frame fuzz of the controller's edge endpoints with a real session (a fuzz without one
// only tests the 401 path). Hostile frames over the WebSocket and long-poll `send`, about real
// jobs the session was offered; then the controller must be alive, healthy, its memory and log
// bounded, and a real runner must still get a job done.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import { rssMiB } from "../helpers/rss.ts";
import { assertBuilt } from "../helpers/processes.ts";
import { reportLine } from "./support/census.ts";
import { ADMIN_TOKEN, Cluster } from "./support/cluster.ts";
import { runnerFrame, Rng, type JobRef } from "./support/frames.ts";
import { CHAOS, FULL } from "./support/settings.ts";

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster?.remove();
  cluster = undefined;
});


async function session(url: string, apiKey: string, transport: "websocket" | "poll"): Promise<{ sessionId: string; token: string }> {
  const res = await fetch(`${url}/edge/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ v: 1, runnerId: "fuzz", group: "default", version: "fuzz", transport }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { sessionId: string; token: string };
}

for (const transport of ["websocket", "poll"] as const) {
  test(`controller edge endpoints over ${transport}: ${CHAOS.frames} hostile frames in a real session, the controller stays up and bounded`, async () => {
    assertBuilt();
    cluster = await Cluster.create({ controllerArgs: ["--lease-ttl", "5s", "--heartbeat-interval", "1s"] });
    const controller = await cluster.startController();
    const apiKey = fs.readFileSync(await cluster.register("fuzz"), "utf8");
    for (let i = 0; i < 20; i++) await cluster.admin("POST", "/jobs", { plugin: "echo", input: { i } });
    const jobs: JobRef[] = [];
    const rng = new Rng(transport === "websocket" ? 0x9e3779b9 : 0x85ebca6b);
    const pid = controller.child.pid as number;
    const rssBefore = rssMiB(pid);
    let sent = 0;
    let sessions = 0;
    const started = Date.now();

    if (transport === "websocket") {
      while (sent < CHAOS.frames) {
        const { sessionId, token } = await session(cluster.url, apiKey, "websocket");
        sessions++;
        const ws = new WebSocket(`${cluster.url.replace("http", "ws")}/edge/v1/sessions/${sessionId}/ws?token=${token}`);
        let open = true;
        ws.onclose = () => (open = false);
        ws.onmessage = (event) => {
          const value = JSON.parse(String(event.data)) as unknown;
          for (const m of Array.isArray(value) ? value : [value]) {
            const offer = (m as { type?: string; job?: { id: string; attempt: number } }).job;
            if ((m as { type?: string }).type === "offer" && offer !== undefined) jobs.push({ jobId: offer.id, attempt: offer.attempt });
          }
        };
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error("WebSocket attach failed"));
        });
        ws.send(JSON.stringify({ v: 1, type: "credit", slots: 20 }));
        while (open && sent < CHAOS.frames) {
          ws.send(runnerFrame(rng, jobs));
          sent++;
          // Let the controller answer now and then, as a real peer would be answered.
          if (sent % 50 === 0) await Bun.sleep(5);
        }
        ws.close();
      }
    } else {
      let current = await session(cluster.url, apiKey, "poll");
      sessions++;
      const receive = async () => {
        const res = await fetch(`${cluster!.url}/edge/v1/sessions/${current.sessionId}/receive?waitMs=0`, { headers: { authorization: `Bearer ${current.token}` } });
        if (res.status !== 200) return res.status;
        for (const m of ((await res.json()) as { messages: Array<{ type: string; job?: { id: string; attempt: number } }> }).messages) {
          if (m.type === "offer" && m.job !== undefined) jobs.push({ jobId: m.job.id, attempt: m.job.attempt });
        }
        return 200;
      };
      await fetch(`${cluster.url}/edge/v1/sessions/${current.sessionId}/send`, { method: "POST", headers: { authorization: `Bearer ${current.token}` }, body: JSON.stringify({ messages: [{ v: 1, type: "credit", slots: 20 }] }) });
      while (sent < CHAOS.frames) {
        const frame = runnerFrame(rng, jobs);
        const body = typeof frame !== "string" ? frame : rng.next() < 0.8 ? `{"messages":[${frame}]}` : frame;
        const res = await fetch(`${cluster.url}/edge/v1/sessions/${current.sessionId}/send`, { method: "POST", headers: { authorization: `Bearer ${current.token}` }, body });
        await res.body?.cancel();
        sent++;
        if (sent % 20 === 0 && (await receive()) === 404) {
          current = await session(cluster.url, apiKey, "poll");
          sessions++;
        }
      }
    }

    await Bun.sleep(500);
    const rssAfter = rssMiB(pid);
    const health = await fetch(`${cluster.url}/api/v1/health`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(health.status).toBe(200);
    const counters = ((await health.json()) as { counters: Record<string, number> }).counters;
    const logBytes = controller.output().length;
    reportLine(`controller frame fuzz (${transport}): ${sent} frames in ${sessions} sessions, ${Math.round((Date.now() - started) / 1000)} s; ` +
      `controller RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB; log ${(logBytes / 1024).toFixed(0)} KiB; counters ${JSON.stringify(counters)}`);
    expect(controller.child.exitCode).toBeNull();
    expect(rssAfter - rssBefore).toBeLessThan(FULL ? 300 : 200);
    // Warnings are rate-limited per session and kind, fields clipped: the log stays small.
    expect(logBytes).toBeLessThan(FULL ? 20 * 1024 * 1024 : 4 * 1024 * 1024);
    // And the controller still does its job for a real runner.
    await cluster.startRunner("real");
    const submitted = await cluster.admin<{ id: string }>("POST", "/jobs", { plugin: "echo", input: { after: "fuzz" } });
    const done = await cluster.admin<{ status: string }>("GET", `/jobs/${submitted.body.id}/wait?timeoutMs=30000`);
    expect(done.body.status).toBe("succeeded");
  }, FULL ? 1_800_000 : 120_000);
}
