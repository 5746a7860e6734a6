// Issue 8 item 5: DNS rebinding. The status page, and the reference controller when it listens on
// loopback, answer only loopback names, IP addresses and configured hosts; any other Host gets 421
// before a handler runs, so a page on a rebound name cannot read /status or the admin API.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { hostGuard } from "../../src/platform/host-guard.ts";
import { assertBuilt, FLAVOURS, start, STATUS_URL, CONTROLLER_URL, waitForOutput, type Proc } from "../helpers/processes.ts";

/** One raw HTTP/1.1 request with a chosen Host header (fetch will not send a foreign Host). */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", reject);
    socket.on("end", () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf("\r\n\r\n") + 4) }));
  });
}

describe("hostGuard()", () => {
  const app = new Hono().use("*", hostGuard({ hosts: ["runner.internal"] })).get("/", (c) => c.text("ok"));
  const get = (host: string) => app.request("/", { headers: { host } });
  for (const host of ["localhost", "localhost:8787", "127.0.0.1:8787", "[::1]:8787", "10.1.2.3", "RUNNER.internal:8787", "app.localhost"]) {
    test(`hostGuard() answers Host "${host}"`, async () => expect((await get(host)).status).toBe(200));
  }
  for (const host of ["evil.example", "evil.example:8787", "localhost.evil.example", "127.0.0.1.nip.io", "runner.internal.evil.example"]) {
    test(`hostGuard() answers 421 to Host "${host}"`, async () => {
      const response = await get(host);
      expect(response.status).toBe(421);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("host_not_allowed");
    });
  }
});

describe("compiled binary: status page and loopback controller refuse rebound names", () => {
  let proc: Proc;
  let dir = "";
  let statusPort = 0;
  let controllerPort = 0;

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "er-sec-host-"));
    proc = start(FLAVOURS[0]!, ["dev", "--data-dir", join(dir, "data"), "--status-port", "0", "--listen-port", "0", "--allowed-hosts", "runner.internal, ops.example"], { cwd: dir });
    statusPort = Number(new URL(await waitForOutput(proc, STATUS_URL, 60_000)).port);
    controllerPort = Number(/:(\d+)/.exec(await waitForOutput(proc, /"url":"(http:\/\/[^"]+)"|listening on (\S+)/, 60_000))?.[1]);
  }, 90_000);
  afterAll(async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test("the status page answers 421 to a foreign Host on every path and 200 to loopback and configured names", async () => {
    for (const path of ["/", "/status", "/metrics", "/healthz", "/readyz"]) {
      const refused = await rawGet(statusPort, path, `evil.example:${statusPort}`);
      expect({ path, status: refused.status }).toEqual({ path, status: 421 });
      expect(refused.body).not.toContain("runnerId");
    }
    for (const host of [`127.0.0.1:${statusPort}`, `localhost:${statusPort}`, `runner.internal:${statusPort}`, "ops.example"]) {
      expect({ host, status: (await rawGet(statusPort, "/status", host)).status }).toEqual({ host, status: 200 });
    }
  });

  test("the loopback reference controller answers 421 to a foreign Host on its admin API", async () => {
    expect(controllerPort).toBeGreaterThan(0);
    for (const path of ["/api/v1/health", "/api/v1/jobs"]) {
      expect({ path, status: (await rawGet(controllerPort, path, "evil.example")).status }).toEqual({ path, status: 421 });
    }
    expect((await rawGet(controllerPort, "/api/v1/health", `127.0.0.1:${controllerPort}`)).status).toBe(200);
  });
});
