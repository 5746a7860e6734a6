// What `edge-runner run` does before it can be ready, and what it leaves for later (issue 15,
// docs/performance.md start-up): the runner's key announcement leaves beside the first session
// request (again once the session is up if it did not get through), and /readyz waits for it;
// the executor (plugin pool) is built at the first job, which then runs as before.

import { afterEach, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startRunnerService, type RunnerService } from "../../src/cli/runner-service.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { EDGE_PATHS } from "../../src/protocol/edge-v1.ts";
import { eventually, startController, tempDir } from "../helpers/harness.ts";
import type { ReferenceController } from "../../src/reference-controller/controller.ts";
import { PatternMatcher } from "../../src/secrets/redaction/pattern-matcher.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A runner data dir with a key pair, as `keygen` leaves it (2048 bits: faster to make). */
function runnerDir(): string {
  const { dir, remove } = tempDir("edge-runner-start-order-");
  cleanups.push(remove);
  mkdirSync(path.join(dir, "keys"), { recursive: true });
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(path.join(dir, "keys", "runner-key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return dir;
}

async function startService(controllerUrl: string, dataDir: string, apiKey = "k".repeat(32), extraArgs: string[] = []): Promise<RunnerService> {
  const { config } = resolveConfig({
    scopes: ["runner"],
    argv: ["--runner-id", "r1", "--controller-url", controllerUrl, "--data-dir", dataDir, "--status-port", "0", "--start-jitter", "0", "--reconnect-min", "20ms", "--reconnect-max", "40ms", ...extraArgs],
    env: { EDGE_RUNNER_API_KEY: apiKey },
    readFile: () => "",
  });
  const service = await startRunnerService(config, memoryLogger("error").logger);
  cleanups.push(() => service.stop());
  return service;
}

/** A controller that refuses every request (503): a runner keeps trying and never connects. `seen`: the paths asked for. */
function refusingController(): { url: string; seen: string[] } {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      seen.push(new URL(request.url).pathname);
      return new Response(JSON.stringify({ error: { code: "unavailable", message: "not now" } }), { status: 503 });
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, seen };
}

test("the runner tells the controller its keys beside its first session request, not again before a session is up", async () => {
  const { url, seen } = refusingController();
  await startService(url, runnerDir());
  // Three session attempts (backoff 20-40 ms each): one announcement, sent with the first.
  await eventually(() => (seen.filter((p) => p === EDGE_PATHS.sessions).length >= 3 ? true : undefined), 10_000, "three session attempts");
  expect(seen.filter((p) => p === EDGE_PATHS.runnerKeys)).toEqual([EDGE_PATHS.runnerKeys]);
});

/**
 * An in-process reference controller with runner r1 behind a pass-through proxy (plain HTTP, so
 * the runner uses long-poll); `keys` sees each key announcement first and may answer it itself.
 */
async function proxiedController(keys: () => Promise<Response | undefined> | Response | undefined) {
  const data = tempDir("edge-runner-start-order-controller-");
  cleanups.push(data.remove);
  const { controller } = await startController({ dataDir: data.dir });
  cleanups.push(() => controller.close());
  const { apiKey } = await controller.registerRunner({ id: "r1", group: "default" });
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const answer = url.pathname === EDGE_PATHS.runnerKeys ? await keys() : undefined;
      if (answer !== undefined) return answer;
      const body = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
      return fetch(controller.url + url.pathname + url.search, { method: request.method, headers: request.headers, body });
    },
  });
  cleanups.push(() => proxy.stop(true));
  return { controller, apiKey, url: `http://127.0.0.1:${proxy.port}` };
}

test("keys that did not get through before the first session are told again once it is up, and /readyz waits for that", async () => {
  // The proxy refuses the first key announcement.
  let announcements = 0;
  const { controller, apiKey, url } = await proxiedController(() => (++announcements === 1 ? new Response("{}", { status: 503 }) : undefined));
  const service = await startService(url, runnerDir(), apiKey, ["--transport", "poll"]);
  await eventually(async () => ((await fetch(`${service.status.url}/readyz`)).status === 200 ? true : undefined), 10_000, "/readyz 200");
  // Ready means the controller can encrypt a secret input to the group.
  expect(controller.runners.groupKeys("default")[0]?.kty).toBe("RSA");
  expect(announcements).toBe(2);
});

/** A reference controller in-process and a runner service connected to it. */
async function connectedRunner(dataDir = runnerDir(), before: (controller: ReferenceController) => void = () => {}) {
  const data = tempDir("edge-runner-start-order-controller-");
  cleanups.push(data.remove);
  const { controller } = await startController({ dataDir: data.dir });
  cleanups.push(() => controller.close());
  const { apiKey } = await controller.registerRunner({ id: "r1", group: "default" });
  before(controller);
  const service = await startService(controller.url, dataDir, apiKey);
  await eventually(() => (service.runner.snapshot().connection.state === "connected" ? true : undefined), 10_000, "the first session");
  return { controller, service };
}

test("once its first session is up, the runner tells the controller its keys", async () => {
  const { controller } = await connectedRunner();
  const keys = await eventually(() => controller.runners.groupKeys("default")[0], 10_000, "the runner's keys at the controller");
  expect(keys.kty).toBe("RSA");
});

test("the first job runs on the executor built when it arrives, and later jobs on the same one", async () => {
  const { controller, service } = await connectedRunner();
  expect(service.runner.snapshot().workers).toEqual([]);
  for (const n of [1, 2]) {
    const job = controller.submitJob({ plugin: "echo", action: "default", input: { n } });
    const done = await controller.waitForJob(job.id, 20_000);
    expect({ n, status: done.status, output: done.output }).toEqual({ n, status: "succeeded", output: { n } });
  }
  expect(service.runner.snapshot().workers.length).toBe(1);
});

test("a job queued before the runner starts resolves a controller secret: its request waits for the first key announcement", async () => {
  // No key file: the runner makes a throwaway key, and the queued job is offered as soon as the
  // session is up, so its secret request could reach the controller before the announcement
  // unless it waits for it (the controller answers 409 runner_key_unknown to a runner that told
  // no key).
  const { dir, remove } = tempDir("edge-runner-start-order-keyless-");
  cleanups.push(remove);
  let id = "";
  const { controller } = await connectedRunner(dir, (c) => {
    c.secrets.set("db/password", "hunter2-very-secret");
    id = c.submitJob({ plugin: "echo", action: "secret", input: { ref: "db/password" }, secrets: ["db/password"] }).id;
  });
  const done = await controller.waitForJob(id, 20_000);
  expect({ status: done.status, error: done.error, output: done.output }).toEqual({ status: "succeeded", error: undefined, output: { ref: "db/password", length: 19 } });
});

test("/readyz waits for the first key announcement: a job with secret inputs submitted at ready finds the key", async () => {
  // The proxy holds the key announcement until released.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const { controller, apiKey, url } = await proxiedController(async () => {
    await held;
    return undefined;
  });
  const service = await startService(url, runnerDir(), apiKey, ["--transport", "poll"]);
  await eventually(() => (service.runner.snapshot().connection.state === "connected" ? true : undefined), 10_000, "the first session");
  const before = await fetch(`${service.status.url}/readyz`);
  expect(before.status).toBe(503);
  expect(await before.json()).toEqual({ ready: false, kind: "starting", reason: "starting: telling the controller the encryption keys" });
  expect(controller.runners.groupKeys("default")).toEqual([]);
  release();
  await eventually(async () => ((await fetch(`${service.status.url}/readyz`)).status === 200 ? true : undefined), 10_000, "/readyz 200");
  // Ready means the controller can encrypt a secret input to the group.
  expect(controller.runners.groupKeys("default")[0]?.kty).toBe("RSA");
});

test("a status port in use stops the runner that already asked for a session, and names the option", async () => {
  // Config and key errors are thrown before any network call; the status server is built while
  // the session request is in flight, so a taken port is found after the connection started: the
  // failed start must stop it, or it would go on trying sessions after the error.
  const { url, seen } = refusingController();
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
  cleanups.push(() => taken.stop(true));
  const { config } = resolveConfig({
    scopes: ["runner"],
    argv: ["--runner-id", "r1", "--controller-url", url, "--data-dir", runnerDir(), "--status-port", String(taken.port), "--start-jitter", "0", "--reconnect-min", "20ms", "--reconnect-max", "40ms"],
    env: { EDGE_RUNNER_API_KEY: "k".repeat(32) },
    readFile: () => "",
  });
  const error = await startRunnerService(config, memoryLogger("error").logger).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
  expect(error?.code).toBe("listen_failed");
  expect(error?.message).toContain("--status-port");
  // At most the one request in flight when the port was found taken, none after it (the
  // connection retries every 20-40 ms while it runs).
  await Bun.sleep(300);
  expect(seen.filter((p) => p === EDGE_PATHS.sessions).length).toBeLessThanOrEqual(1);
});

/** Records Bun.unsafe.setJITPolicy's calls in this process until the test ends. */
function spyJitPolicy(): number[] {
  const unsafe = Bun.unsafe as { setJITPolicy: (scale: number) => void };
  const original = unsafe.setJITPolicy;
  const calls: number[] = [];
  unsafe.setJITPolicy = (scale: number) => {
    calls.push(scale);
  };
  cleanups.push(() => (unsafe.setJITPolicy = original));
  return calls;
}

test("the JIT's normal policy comes back once the runner is ready, not while it still tries for a session", async () => {
  // The executable starts with raised tier-up thresholds (scripts/build.ts); a runner that stayed
  // that way would run every job's hot path in the interpreter for 16 times longer.
  const refused = spyJitPolicy();
  const { url, seen } = refusingController();
  await startService(url, runnerDir());
  await eventually(() => (seen.filter((p) => p === EDGE_PATHS.sessions).length >= 3 ? true : undefined), 10_000, "three session attempts");
  expect(refused).toEqual([]);

  const calls = spyJitPolicy();
  const { service } = await connectedRunner();
  await eventually(async () => ((await fetch(`${service.status.url}/readyz`)).status === 200 ? true : undefined), 10_000, "/readyz 200");
  await eventually(() => (calls.length > 0 ? true : undefined), 5_000, "setJITPolicy called");
  expect(calls).toEqual([1]);
});

test("a runner's start to /readyz 200, its not-ready answers included, builds no redaction matcher", async () => {
  // The key announcement is held, so /readyz answers 503 with a reason (masked like every answer).
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const { apiKey, url } = await proxiedController(async () => {
    await held;
    return undefined;
  });
  const built = PatternMatcher.built;
  const service = await startService(url, runnerDir(), apiKey, ["--transport", "poll"]);
  await eventually(() => (service.runner.snapshot().connection.state === "connected" ? true : undefined), 10_000, "the first session");
  expect((await fetch(`${service.status.url}/readyz`)).status).toBe(503);
  release();
  await eventually(async () => ((await fetch(`${service.status.url}/readyz`)).status === 200 ? true : undefined), 10_000, "/readyz 200");
  // Building it cold cost a compiled runner ~2-4 ms of CPU before ready (docs/performance.md, start-up, seventh pass).
  expect(PatternMatcher.built - built).toBe(0);
});
