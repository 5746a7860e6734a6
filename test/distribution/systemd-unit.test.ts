// systemd/edge-runner.service: `systemd-analyze verify` prints nothing, the offline security
// exposure stays low, and the settings the issue asks for are present (and the proxy.env that
// install.sh --proxy writes is read).

import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run } from "./release-fixture.ts";

const UNIT = readFileSync(join(ROOT, "systemd/edge-runner.service"), "utf8");
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The unit as install.sh writes it for a prefix, pointed at an executable that exists here. */
function unitForVerify(): string {
  if (Bun.which("systemd-analyze") === null) throw new Error("systemd-analyze is missing: apt-get install -y systemd");
  const dir = mkdtempSync(join(tmpdir(), "edge-runner-unit-"));
  dirs.push(dir);
  const bin = join(dir, "edge-runner");
  writeFileSync(bin, "#!/bin/sh\n");
  chmodSync(bin, 0o755);
  const path = join(dir, "edge-runner.service");
  writeFileSync(path, UNIT.replaceAll("/usr/local/bin/edge-runner", bin));
  return path;
}

test("edge-runner.service passes systemd-analyze verify with no output", async () => {
  const result = await run(["systemd-analyze", "verify", unitForVerify()]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
});

test("edge-runner.service has an offline security exposure of at most 2.0", async () => {
  const result = await run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unitForVerify()]);
  const score = Number(/Overall exposure level for edge-runner\.service: ([\d.]+)/.exec(result.stdout)?.[1]);
  console.log(`systemd-analyze security --offline=yes: exposure ${score}`);
  expect(score).toBeLessThanOrEqual(2.0);
});

test("edge-runner.service waits for readiness, drains longer than the runner, and restarts with a limit", () => {
  const value = (key: string) => [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]);
  expect(value("Type")).toEqual(["exec"]);
  expect(value("ExecStartPost")[0]).toContain("healthcheck --wait");
  expect(value("KillMode")).toEqual(["mixed"]);
  expect(value("Restart")).toEqual(["on-failure"]);
  expect(value("StartLimitBurst").length).toBe(1);
  expect(value("User")).toEqual(["edge-runner"]);
  // install.sh --proxy writes it; optional ("-"), so a runner without a proxy starts without it.
  expect(value("EnvironmentFile")).toEqual(["-/etc/edge-runner/proxy.env"]);
  // The runner's drainTimeoutMs defaults to 60 s; the stop timeout must outlast it.
  expect(Number(value("TimeoutStopSec")[0]?.replace(/s$/, ""))).toBeGreaterThan(60);
  for (const key of ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "StateDirectory", "ConfigurationDirectory", "CapabilityBoundingSet", "SystemCallFilter"]) {
    expect(value(key).length).toBeGreaterThan(0);
  }
  // Plugins need the network and fork/exec.
  expect(value("RestrictAddressFamilies")[0]).toContain("AF_INET");
  expect(UNIT).not.toMatch(/^PrivateNetwork=yes/m);
  expect(UNIT).not.toMatch(/^SystemCallFilter=~.*@process/m);
});
