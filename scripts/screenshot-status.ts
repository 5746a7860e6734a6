// Screenshots the status page in headless Chromium, one picture per named state (idle, busy,
// never connected, unauthorized, draining) at 1280×900 and at phone width (390×844), so each can
// be looked at; the busy one at 1280 also becomes docs/status.png.
// Run with: bun scripts/screenshot-status.ts [--out-dir=DIR] [--state=busy] [--dark] [--no-docs]
// (default DIR .edge-runner/screenshots; needs /usr/bin/chromium: apt-get install chromium).

import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serveHttp } from "../src/platform/http-server.ts";
import { createStatusApp } from "../src/status/app.ts";
import { RunnerMetrics } from "../src/status/metrics.ts";
import { STATUS_STATES, stateSnapshot, type StatusState } from "../test/status/states.ts";

const CHROMIUM = "/usr/bin/chromium";
const TIMEOUT_MS = 60_000;
const SIZES = [{ width: 1280, height: 900 }, { width: 390, height: 844 }];

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k as string, v ?? "true"] as const;
  }),
);
const root = new URL("..", import.meta.url).pathname;
const outDir = resolve(args.get("out-dir") ?? join(root, ".edge-runner/screenshots"));
const states = args.has("state") ? [args.get("state") as StatusState] : [...STATUS_STATES];
for (const state of states) {
  if (!STATUS_STATES.includes(state)) {
    process.stderr.write(`Unknown state "${state}" (one of ${STATUS_STATES.join(", ")})\n`);
    process.exit(64);
  }
}

if (!existsSync(CHROMIUM)) {
  process.stderr.write(`Cannot take the screenshots: ${CHROMIUM} is missing. Install it: apt-get install chromium\n`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });

let current: StatusState = "idle";
const metrics = new RunnerMetrics();
const server = await serveHttp(createStatusApp({ snapshot: () => stateSnapshot(current, Date.now()), metrics }), { hostname: "127.0.0.1", port: 0 });
let failed = 0;
try {
  for (const state of states) {
    current = state;
    for (const { width, height } of SIZES) {
      const out = join(outDir, `status-${state}-${width}.png`);
      const status = await screenshot(out, width, height);
      if (status === 0) process.stdout.write(`wrote ${out} (${width}×${height})\n`);
      else failed++;
      if (status === 0 && state === "busy" && width === 1280 && args.get("no-docs") !== "true") copyFileSync(out, join(root, "docs/status.png"));
    }
  }
} finally {
  await server.close();
}
process.exit(failed === 0 ? 0 : 1);

async function screenshot(out: string, width: number, height: number): Promise<number> {
  const profile = mkdtempSync(join(tmpdir(), "edge-runner-chromium-"));
  const chromeArgs = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
    ...(args.get("dark") === "true" ? ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] : []),
    `--user-data-dir=${profile}`, `--window-size=${width},${height}`, `--screenshot=${out}`, `${server.url}/`,
  ];
  try {
    return await new Promise<number>((done) => {
      const child = spawn(CHROMIUM, chromeArgs, { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        process.stderr.write(`Cannot take the screenshot: chromium did not finish within ${TIMEOUT_MS / 1000} s\n`);
        child.kill("SIGKILL");
      }, TIMEOUT_MS);
      child.on("error", (error) => {
        clearTimeout(timer);
        process.stderr.write(`Cannot start ${CHROMIUM}: ${error.message}\n`);
        done(1);
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code !== 0) process.stderr.write(stderr.slice(-2000));
        done(code ?? 1);
      });
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
