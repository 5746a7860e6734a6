// Issue 8 item 7: --insecure is never silent. The runner warns at start and on every (re)connect,
// /status says `insecure: true`, the page shows a notice, and /metrics has edge_runner_insecure 1
// (0 without the flag), so a fleet scan finds it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderSecurityNotice } from "../../src/status/security-section.ts";
import { renderPage } from "../../src/status/page.ts";
import { statusDocument } from "../../src/status/document.ts";
import { Redactor } from "../../src/log/redact.ts";
import { snapshotFixture } from "../status/fixtures.ts";
import { assertBuilt, CONTROLLER_URL, FLAVOURS, freePort, runToEnd, start, STATUS_URL, waitForOutput, type Proc } from "../helpers/processes.ts";

const binary = FLAVOURS[0]!;

describe("renderSecurityNotice()", () => {
  test("renderSecurityNotice() is empty without --insecure and names plain http with it", () => {
    expect(renderSecurityNotice({ insecure: false, controllerUrl: "http://10.0.0.1:8780" })).toBe("");
    const notice = renderSecurityNotice({ insecure: true, controllerUrl: "http://10.0.0.1:8780" });
    expect(notice).toContain("started with --insecure");
    expect(notice).toContain("plain http (http://10.0.0.1:8780)");
    expect(renderSecurityNotice({ insecure: true, controllerUrl: "https://c.example" })).toContain("started with --insecure");
  });

  test("renderPage() shows the notice only for an insecure runner", () => {
    const redactor = new Redactor();
    expect(renderPage(statusDocument(snapshotFixture({ insecure: true }), redactor))).toContain('<div id="s-security"><div class="insecure');
    expect(renderPage(statusDocument(snapshotFixture(), redactor))).toContain('<div id="s-security"></div>');
  });
});

describe("compiled binary: --insecure warns on start and every reconnect, and shows everywhere", () => {
  let dir = "";
  const procs: Proc[] = [];
  let port = 0;

  const startController = async () => {
    const controller = start(binary, ["controller", "--data-dir", join(dir, "controller"), "--listen-port", String(port)]);
    procs.push(controller);
    await waitForOutput(controller, CONTROLLER_URL, 30_000);
    return controller;
  };

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "er-sec-insecure-"));
    port = await freePort();
  });
  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  test("edge-runner run --insecure against a plain-http, non-loopback-named controller", async () => {
    const controller = await startController();
    const local = `http://127.0.0.1:${port}`;
    const registered = await runToEnd(binary, ["runner", "register", "r1", "--api-key-out", join(dir, "r1.key"), "--controller-url", local, "--data-dir", join(dir, "controller")]);
    expect(registered.code).toBe(0);
    // 0.0.0.0 reaches the local controller but is not a loopback name: only --insecure allows it.
    const runner = start(binary, [
      "run", "--runner-id", "r1", "--api-key-file", join(dir, "r1.key"), "--controller-url", `http://0.0.0.0:${port}`, "--insecure",
      "--status-port", "0", "--start-jitter", "0", "--reconnect-min", "50ms", "--reconnect-max", "200ms", "--data-dir", join(dir, "runner"),
    ]);
    procs.push(runner);
    const statusUrl = await waitForOutput(runner, STATUS_URL, 30_000);
    await waitForOutput(runner, /Connected to controller/, 30_000);
    const warnings = () => runner.output().split("\n").filter((line) => line.includes('"level":"warn"') && line.includes("Insecure: --insecure is set")).length;
    // One at start, one on the first connect.
    expect(warnings()).toBeGreaterThanOrEqual(2);

    const doc = (await (await fetch(`${statusUrl}/status`)).json()) as { insecure: boolean };
    expect(doc.insecure).toBe(true);
    expect(await (await fetch(`${statusUrl}/`)).text()).toContain('<div id="s-security"><div class="insecure');
    expect(await (await fetch(`${statusUrl}/metrics`)).text()).toMatch(/^edge_runner_insecure 1$/m);

    // A reconnect warns again.
    const before = warnings();
    controller.kill("SIGKILL");
    await controller.exited;
    await startController();
    const deadline = Date.now() + 60_000;
    while (warnings() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(warnings()).toBeGreaterThan(before);
    expect(runner.output()).toMatch(/Connected to controller[\s\S]*Connected to controller/);
  }, 120_000);

  test("edge-runner run without --insecure reports edge_runner_insecure 0 and no notice", async () => {
    const runner = start(binary, [
      "run", "--runner-id", "r1", "--api-key-file", join(dir, "r1.key"), "--controller-url", `http://127.0.0.1:${port}`,
      "--status-port", "0", "--start-jitter", "0", "--data-dir", join(dir, "runner2"),
    ]);
    procs.push(runner);
    const statusUrl = await waitForOutput(runner, STATUS_URL, 30_000);
    expect(((await (await fetch(`${statusUrl}/status`)).json()) as { insecure: boolean }).insecure).toBe(false);
    expect(await (await fetch(`${statusUrl}/metrics`)).text()).toMatch(/^edge_runner_insecure 0$/m);
    expect(runner.output()).not.toContain("Insecure:");
  }, 60_000);
});
