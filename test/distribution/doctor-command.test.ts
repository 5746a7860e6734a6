// `edge-runner doctor` against a fake edge controller (http and https with its own CA), healthy
// and with each piece broken in turn.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { createDoctorCommand } from "../../src/cli/doctor-command.ts";
import type { CheckReport } from "../../src/ops/doctor/check.ts";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { run } from "./release-fixture.ts";

const API_KEY = "doctor-test-key-5f1e2d";
let work: string;
let http: HttpServer;
let https: { url: string; stop(): void };
let certFile: string;
let sessionsCreated = 0;
/** What the fake's check answer says under "features": the reference controller's list, or another controller's. */
let checkFeatures: unknown = ["release"];

function controllerApp(): Hono {
  return new Hono()
    .post("/edge/v1/check", async (c) => {
      const auth = c.req.header("authorization") ?? "";
      const body = (await c.req.json()) as { runnerId?: string; group?: string };
      // Echo the header back, as a careless controller might: the doctor must not print it.
      if (auth !== `Bearer ${API_KEY}`) return c.json({ error: { code: "unauthorized", message: `bad credentials ${auth}` } }, 401);
      if (body.runnerId === "disabled") return c.json({ error: { code: "forbidden", message: "runner is disabled" } }, 403);
      return c.json({ v: 1, runnerId: body.runnerId, group: body.group, ...(checkFeatures === undefined ? {} : { features: checkFeatures }) });
    })
    .post("/edge/v1/sessions", (c) => {
      // A session would replace the live runner's own; the doctor must never create one.
      sessionsCreated++;
      return c.json({ error: { code: "unexpected", message: "doctor must not create sessions" } }, 500);
    });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "edge-runner-doctor-test-"));
  http = await serveHttp(controllerApp(), { hostname: "127.0.0.1", port: 0 });
  certFile = join(work, "cert.pem");
  const keyFile = join(work, "cert-key.pem");
  const made = await run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", keyFile, "-out", certFile]);
  if (made.code !== 0) throw new Error(made.stderr);
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: controllerApp().fetch, tls: { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") } });
  https = { url: `https://localhost:${server.port}`, stop: () => void server.stop(true) };
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await http?.close();
  https?.stop();
});

/** A healthy setup in a fresh dir; returns the env that configures the runner. */
function setup(): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(work, "setup-"));
  const data = join(dir, "data");
  mkdirSync(join(data, "keys"), { recursive: true, mode: 0o700 });
  chmodSync(data, 0o700);
  writeFileSync(join(data, "keys/runner-key.pem"), "-----BEGIN PRIVATE KEY-----\n", { mode: 0o600 });
  writeFileSync(join(dir, "api-key"), `${API_KEY}\n`, { mode: 0o600 });
  return {
    dir,
    env: {
      EDGE_RUNNER_RUNNER_ID: "r1",
      EDGE_RUNNER_CONTROLLER_URL: http.url,
      EDGE_RUNNER_API_KEY_FILE: join(dir, "api-key"),
      EDGE_RUNNER_DATA_DIR: data,
    },
  };
}

async function doctor(env: Record<string, string>, options: { uid?: number; args?: string[] } = {}) {
  let out = "";
  const command = createDoctorCommand({ env, uid: options.uid ?? process.getuid!(), out: (t) => (out += t), err: (t) => (out += t) });
  const code = await command.run(["--json", "--timeout", "2s", ...(options.args ?? [])]);
  const checks = (JSON.parse(out) as { checks: CheckReport[] }).checks;
  const status = Object.fromEntries(checks.map((c) => [c.id, c.status]));
  const byId = (id: string) => checks.find((c) => c.id === id)!;
  return { code, out, status, byId };
}

test("doctorCommand passes a healthy setup without opening a session", async () => {
  const { env } = setup();
  sessionsCreated = 0;
  const result = await doctor(env);
  expect(result.status).toEqual({ config: "pass", "data-dir": "pass", "object-storage": "skip", "key-files": "pass", "signing-keys": "skip", "controller-reachable": "pass", tls: "skip", authentication: "pass", meshstack: "skip" });
  expect(result.code).toBe(0);
  expect(sessionsCreated).toBe(0);
  expect(result.byId("authentication").summary).toBe('the controller accepted runner "r1" in group "default"; session features: release');
});

test("doctorCommand shows the session features the controller announces: without release, no local prefetch (a warning while prefetch asks for some)", async () => {
  const { env } = setup();
  try {
    checkFeatures = undefined; // a controller from before the features list
    const old = await doctor(env);
    expect(old.byId("authentication")).toMatchObject({
      status: "warn",
      summary: 'the controller accepted runner "r1" in group "default"; the controller lists no session features; no "release": no local prefetch (the runner takes offered jobs for its free slots only), so prefetch 16 is not used',
    });
    expect(old.byId("authentication").fix).toContain('set "prefetch" to 0');
    expect(old.code).toBe(0);
    checkFeatures = ["zstd-frames"]; // a newer controller's feature this runner does not know
    const unknown = await doctor({ ...env, EDGE_RUNNER_PREFETCH: "0" });
    expect(unknown.byId("authentication")).toMatchObject({ status: "pass", summary: expect.stringContaining('the controller lists no session features; no "release": no local prefetch') });
    checkFeatures = "release"; // not a list: the runner's session would fail the same way
    const invalid = await doctor(env);
    expect(invalid.byId("authentication").status).toBe("fail");
    expect(invalid.byId("authentication").summary).toContain('the controller\'s answer has an invalid "features" (a string)');
    expect(invalid.code).toBe(1);
  } finally {
    checkFeatures = ["release"];
  }
});

test("doctorCommand prints one line per check and the fix for a failure", async () => {
  const { env } = setup();
  let out = "";
  const code = await createDoctorCommand({ env: { ...env, EDGE_RUNNER_RUNNER_ID: "" }, uid: process.getuid!(), out: (t) => (out += t) }).run([]);
  expect(code).toBe(1);
  expect(out).toMatch(/^FAIL {2}config +"runnerId" is not set$/m);
  expect(out).toContain('fix: set "runnerId" in the config file or EDGE_RUNNER_RUNNER_ID');
  expect(out).toMatch(/^SKIP {2}authentication +needs "key files" to pass first$/m);
});

test("doctorCommand fails an invalid config and skips what depends on it", async () => {
  const { env } = setup();
  const result = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: "ftp://controller" });
  expect(result.code).toBe(1);
  expect(result.byId("config").summary).toContain('Invalid value "ftp://controller" for "controllerUrl"');
  expect(result.status.authentication).toBe("skip");
});

test("doctorCommand fails an API key file other users can read, and one owned by someone else", async () => {
  const { dir, env } = setup();
  chmodSync(join(dir, "api-key"), 0o644);
  const readable = await doctor(env);
  expect(readable.code).toBe(1);
  expect(readable.byId("key-files")).toMatchObject({ status: "fail", fix: `chmod 600 "${join(dir, "api-key")}"` });
  expect(readable.status.authentication).toBe("skip");
  chmodSync(join(dir, "api-key"), 0o600);
  const foreign = await doctor(env, { uid: 12345 });
  expect(foreign.byId("key-files").summary).toContain("not by uid 12345 who runs this check");
});

test("doctorCommand fails an 8 GiB API key file or config file by its size (naming it and the cap), without reading it", async () => {
  const { dir, env } = setup();
  const keyFile = join(dir, "api-key");
  truncateSync(keyFile, 8 * 1024 ** 3);
  const huge = await doctor(env);
  expect(huge.code).toBe(1);
  expect(huge.byId("key-files")).toMatchObject({ status: "fail", summary: `cannot read API key file "${keyFile}": The file "${keyFile}" is ${8 * 1024 ** 3} bytes, over the cap of 65536 bytes for it; not read` });
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, "");
  truncateSync(configFile, 8 * 1024 ** 3);
  const config = await doctor({ ...env, EDGE_RUNNER_CONFIG_FILE: configFile });
  expect(config.byId("config").status).toBe("fail");
  expect(config.byId("config").summary).toContain(`The file "${configFile}" is ${8 * 1024 ** 3} bytes, over the cap of 1048576 bytes for it; not read`);
});

test("doctorCommand fails a result spool key file (results.key) other users can read, and names it when it is private", async () => {
  const { env } = setup();
  const resultsKey = join(env.EDGE_RUNNER_DATA_DIR!, "keys", "results.key");
  writeFileSync(resultsKey, "a key\n", { mode: 0o644 });
  chmodSync(resultsKey, 0o644);
  const readable = await doctor(env);
  expect(readable.byId("key-files")).toMatchObject({ status: "fail", fix: `chmod 600 "${resultsKey}"` });
  expect(readable.byId("key-files").summary).toContain("result spool key");
  chmodSync(resultsKey, 0o600);
  const ok = await doctor(env);
  expect(ok.byId("key-files")).toMatchObject({ status: "pass" });
  expect(ok.byId("key-files").summary).toContain(resultsKey);
});

test("doctorCommand only warns about a missing runner key pair (optional: encrypted inputs), naming keygen", async () => {
  const { env } = setup();
  const result = await doctor({ ...env, EDGE_RUNNER_DATA_DIR: join(env.EDGE_RUNNER_DATA_DIR!, "keys") });
  expect(result.byId("key-files")).toMatchObject({ status: "warn" });
  expect(result.byId("key-files").summary).toContain("jobs with encrypted inputs");
  expect(result.byId("key-files").fix).toContain("edge-runner keygen --out-dir");
  expect(result.status.authentication).toBe("pass");
  expect(result.code).toBe(0);
});

test("doctorCommand's text report counts warnings and its summary names where values came from", async () => {
  const { dir, env } = setup();
  const { EDGE_RUNNER_RUNNER_ID: _id, EDGE_RUNNER_DATA_DIR: data, ...rest } = env;
  let out = "";
  const code = await createDoctorCommand({ env: rest, uid: process.getuid!(), out: (t) => (out += t) })
    .run(["--runner-id", "r1", "--data-dir", join(data!, "keys")]);
  expect(code).toBe(0);
  expect(out).toMatch(/^PASS {2}config +runner "r1" in group "default" from flags and environment$/m);
  expect(out).toMatch(/^WARN {2}key files /m);
  expect(out).toContain("All checks passed (1 warning).");
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ runnerId: "r1" }));
  const fromFile = await doctor(rest, { args: ["--config-file", file] });
  expect(fromFile.byId("config").summary).toBe(`runner "r1" in group "default" from flags, environment and config file "${file}"`);
});

test("doctorCommand fails a missing or world-writable data directory", async () => {
  const { env } = setup();
  const missing = await doctor({ ...env, EDGE_RUNNER_DATA_DIR: join(env.EDGE_RUNNER_DATA_DIR!, "nope") });
  expect(missing.byId("data-dir").fix).toContain("install -d -m 0700");
  chmodSync(env.EDGE_RUNNER_DATA_DIR!, 0o777);
  const open = await doctor(env);
  expect(open.byId("data-dir")).toMatchObject({ status: "fail", fix: `chmod 700 "${env.EDGE_RUNNER_DATA_DIR}"` });
});

test("doctorCommand fails an unreachable controller at the TCP step and an unknown host at DNS", async () => {
  const { env } = setup();
  const closed = await serveHttp(new Hono(), { hostname: "127.0.0.1", port: 0 });
  await closed.close();
  const refused = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: `http://127.0.0.1:${closed.port}` });
  expect(refused.byId("controller-reachable").summary).toStartWith(`TCP: cannot connect to 127.0.0.1:${closed.port}`);
  expect(refused.byId("controller-reachable").fix).toContain("nothing listens there");
  expect(refused.status.authentication).toBe("skip");
  const unknown = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: "https://no-such-controller.invalid" });
  expect(unknown.byId("controller-reachable").summary).toStartWith('DNS: cannot resolve "no-such-controller.invalid"');
});

test("doctorCommand fails a wrong API key (401) and a disabled runner (403) without printing the key", async () => {
  const { dir, env } = setup();
  writeFileSync(join(dir, "api-key"), "wrong-key-0000000\n", { mode: 0o600 });
  const wrong = await doctor(env);
  expect(wrong.code).toBe(1);
  expect(wrong.byId("authentication").summary).toBe('the controller refused runner "r1" with this API key (401)');
  expect(wrong.out).not.toContain("wrong-key-0000000");
  writeFileSync(join(dir, "api-key"), `${API_KEY}\n`, { mode: 0o600 });
  const disabled = await doctor({ ...env, EDGE_RUNNER_RUNNER_ID: "disabled" });
  expect(disabled.byId("authentication").summary).toContain("is known but not allowed (403): runner is disabled");
  expect(disabled.out).not.toContain(API_KEY);
});

test("doctorCommand fails TLS from an unknown CA, naming caFile, and passes with it", async () => {
  const { env } = setup();
  const https_env = { ...env, EDGE_RUNNER_CONTROLLER_URL: https.url };
  const untrusted = await doctor(https_env);
  expect(untrusted.status["controller-reachable"]).toBe("pass");
  expect(untrusted.byId("tls")).toMatchObject({ status: "fail" });
  expect(untrusted.byId("tls").fix).toContain('set "caFile"');
  expect(untrusted.status.authentication).toBe("skip");
  const trusted = await doctor({ ...https_env, EDGE_RUNNER_CA_FILE: certFile });
  expect(trusted.byId("tls").summary).toContain('certificate "localhost"');
  expect(trusted.status.authentication).toBe("pass");
  expect(trusted.code).toBe(0);
});

test("doctorCommand fails TLS for a caFile that is not PEM certificates, by the rule run applies at start", async () => {
  const { dir, env } = setup();
  const caFile = join(dir, "garbage-ca.pem");
  writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n");
  const result = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: https.url, EDGE_RUNNER_CA_FILE: caFile });
  expect(result.byId("tls")).toMatchObject({ status: "fail", summary: `cannot use "caFile" "${caFile}": certificate 1 is not valid PEM (its base64 is not one DER certificate)` });
});

test("doctorCommand fails unreadable trusted signing keys", async () => {
  const { dir, env } = setup();
  writeFileSync(join(dir, "trusted.jwks"), "not json");
  const result = await doctor({ ...env, EDGE_RUNNER_TRUSTED_KEYS: join(dir, "trusted.jwks") });
  expect(result.byId("signing-keys").status).toBe("fail");
  expect(result.code).toBe(1);
});

test("doctorCommand passes against the reference controller with a registered runner, and fails an unregistered one", async () => {
  const { ReferenceController } = await import("../../src/reference-controller/controller.ts");
  const { memoryLogger } = await import("../../src/log/logger.ts");
  const { dir, env } = setup();
  const controller = await ReferenceController.start({ dataDir: join(dir, "controller"), logger: memoryLogger().logger });
  try {
    const { apiKey } = await controller.registerRunner({ id: "r1" });
    writeFileSync(join(dir, "api-key"), `${apiKey}\n`, { mode: 0o600 });
    const healthy = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: controller.url });
    expect(healthy.status.authentication).toBe("pass");
    expect(healthy.code).toBe(0);
    const unknown = await doctor({ ...env, EDGE_RUNNER_CONTROLLER_URL: controller.url, EDGE_RUNNER_RUNNER_ID: "r2" });
    expect(unknown.byId("authentication").status).toBe("fail");
    expect(unknown.out).not.toContain(apiKey);
  } finally {
    await controller.close();
  }
});
