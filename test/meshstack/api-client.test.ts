// The meshStack API client with a scripted fetch and clock: login caching until expires_in − 30 s
// (at least 1 s), re-login on 401, basic auth, the headers of every call, and claims never
// retried after an error whose outcome is unknown, and the plan download cut off past 128 MiB.

import { describe, expect, test } from "bun:test";
import { answerMessage, MAX_PLAN_BYTES, MeshstackCallError, MeshstackClient, RUN_MEDIA_TYPE, type MeshstackAuth } from "../../src/controller/meshstack/api-client.ts";
import { parseRun } from "../../src/controller/meshstack/run-document.ts";
import { quotedReason } from "../../src/controller/meshstack/refusal-reason.ts";
import { redactor, Redactor } from "../../src/log/redact.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { meshstackClient, meshstackSettings } from "../../src/controller/meshstack/from-config.ts";
import { EdgeError } from "../../src/errors.ts";

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

function scripted(answers: Array<(call: Call) => Response | Error>, auth: MeshstackAuth = { kind: "apiKey", clientId: "cid", clientSecret: "cs" }) {
  const calls: Call[] = [];
  let clock = 1_000_000;
  const client = new MeshstackClient({
    baseUrl: "https://meshstack.test/",
    auth,
    runnerName: "edge-runner",
    runnerVersion: "1.2.3",
    nodeId: "node-7",
    now: () => clock,
    fetch: (async (url: string, init: RequestInit) => {
      const call: Call = { method: String(init.method), url: String(url), headers: init.headers as Record<string, string>, ...(typeof init.body === "string" ? { body: init.body } : {}) };
      calls.push(call);
      const answer = answers.shift();
      if (answer === undefined) throw new Error(`unexpected call ${call.method} ${call.url}`);
      const out = answer(call);
      if (out instanceof Error) throw out;
      return out;
    }) as typeof fetch,
  });
  return { client, calls, advance: (ms: number) => (clock += ms) };
}

const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const login = (expiresIn: number, token = "tok") => json(200, { access_token: token, expires_in: expiresIn });

describe("MeshstackClient", () => {
  test("logs in once and reuses the token until expires_in − 30 s, then logs in again", async () => {
    const { client, calls, advance } = scripted([login(100, "t1"), json(404, {}), json(404, {}), login(100, "t2"), json(404, {})]);
    expect(await client.claim("r-1")).toEqual({ kind: "none", status: 404 });
    advance(69_000);
    await client.claim("r-1");
    advance(2000); // past 100 s − 30 s
    await client.claim("r-1");
    expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual([
      "POST /api/login", "POST /api/meshobjects/meshbuildingblockruns/create", "POST /api/meshobjects/meshbuildingblockruns/create",
      "POST /api/login", "POST /api/meshobjects/meshbuildingblockruns/create",
    ]);
    expect(calls[0]?.body).toBe(JSON.stringify({ clientId: "cid", clientSecret: "cs" }));
    expect(calls[0]?.headers["Content-Type"]).toBe("application/json");
    expect(calls[1]?.headers.Authorization).toBe("Bearer t1");
    expect(calls[4]?.headers.Authorization).toBe("Bearer t2");
    expect(new URL(calls[1]?.url ?? "").search).toBe("?forRunnerUuid=r-1");
  });

  test("a token with a tiny expires_in is still cached for at least 1 s", async () => {
    const { client, calls, advance } = scripted([login(5), json(404, {}), json(404, {})]);
    await client.claim("r");
    advance(900);
    await client.claim("r");
    expect(calls.filter((c) => c.url.endsWith("/api/login")).length).toBe(1);
  });

  test("every call carries the run media type, User-Agent, runner name and version and node id; run calls use the run token", async () => {
    const { client, calls } = scripted([login(3600), json(409, {}), json(200, {}), json(200, { runAborted: true })]);
    expect(await client.claim("r")).toEqual({ kind: "none", status: 409 });
    await client.register("https://meshstack.test/x/status/source", "run-token", { source: { id: "r" }, steps: [] });
    expect(await client.patch("https://meshstack.test/x/status/source/r", "run-token", {})).toEqual({ kind: "ok", runAborted: true });
    for (const call of calls.slice(1)) {
      expect(call.headers.Accept).toBe(RUN_MEDIA_TYPE);
      expect(call.headers["Content-Type"]).toBe(RUN_MEDIA_TYPE);
      expect(call.headers["User-Agent"]).toBe("edge-runner/1.2.3");
      expect(call.headers["X-Meshcloud-Runner-Name"]).toBe("edge-runner");
      expect(call.headers["X-Meshcloud-Runner-Version"]).toBe("1.2.3");
      expect(call.headers["X-Block-Runner-Node-Id"]).toBe("node-7");
    }
    expect(calls[2]?.headers.Authorization).toBe("Bearer run-token");
    expect(calls[3]?.method).toBe("PATCH");
  });

  test("a 401 on a claim logs in again and asks once more (nothing was claimed); a 409 on PATCH means the run ended", async () => {
    const { client, calls } = scripted([login(3600, "old"), json(401, {}), login(3600, "new"), json(404, {}), json(409, { runAborted: true }), json(409, {})]);
    expect(await client.claim("r")).toEqual({ kind: "none", status: 404 });
    expect(calls[3]?.headers.Authorization).toBe("Bearer new");
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ended", runAborted: true });
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ended", runAborted: false });
  });

  test("patch() and register() take a 2xx whose body is over 64 KiB, or breaks off, as acknowledged, runAborted false; a login's is still refused", async () => {
    const big = (status: number, runAborted: boolean) => () => new Response(JSON.stringify({ runAborted, padding: "x".repeat(70 * 1024) }), { status, headers: { "content-type": RUN_MEDIA_TYPE } });
    const broken = () => new Response(new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode('{"runAb')); c.error(new Error("connection reset")); } }), { status: 200 });
    const { client } = scripted([big(200, false), big(200, true), broken, big(201, false), broken, big(409, true), big(200, false)]);
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ok", runAborted: false });
    // Over 64 KiB its body is not read at all: `runAborted` is told again on the next update's answer.
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ok", runAborted: false });
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ok", runAborted: false });
    await client.register("https://meshstack.test/r", "t", {});
    await client.register("https://meshstack.test/r", "t", {});
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ended", runAborted: false });
    // A login answers with its body: one over 64 KiB is still a failed call.
    const login = await client.login().catch((e: unknown) => e);
    expect((login as MeshstackCallError).status).toBe(502);
  });

  test("patch() reads runAborted from a 2xx answer of up to 64 KiB", async () => {
    const { client } = scripted([json(200, { runAborted: true, padding: "x".repeat(60 * 1024) })]);
    expect(await client.patch("https://meshstack.test/p", "t", {})).toEqual({ kind: "ok", runAborted: true });
  });

  test("a claim that gets no answer fails with outcomeUnknown and is not retried; a 5xx is not retried either", async () => {
    const { client, calls } = scripted([login(3600), () => new Error("socket hang up"), json(503, {})]);
    const unknown = await client.claim("r").catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MeshstackCallError);
    expect((unknown as MeshstackCallError).outcomeUnknown).toBe(true);
    expect((unknown as MeshstackCallError).code).toBe("connection_failed");
    const busy = await client.claim("r").catch((e: unknown) => e);
    expect((busy as MeshstackCallError).status).toBe(503);
    expect(calls.length).toBe(3);
  });

  test("planArtifact() stops reading a plan over 128 MiB as soon as it passes the cap, and says so", async () => {
    // 1 MiB chunks (one buffer, so the test holds little), 4 MiB more than the cap in all; pulled on demand.
    const chunk = new Uint8Array(1024 * 1024);
    let served = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (served >= MAX_PLAN_BYTES + 4 * chunk.byteLength) return controller.close();
        served += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const { client, calls } = scripted([() => new Response(body, { status: 200, headers: { "content-type": "application/octet-stream" } })]);
    const error = await client.planArtifact("https://meshstack.test/runs/r/artifact", "run-token").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).code).toBe("input_invalid");
    expect((error as EdgeError).message).toContain(`over ${MAX_PLAN_BYTES} bytes`);
    expect(MAX_PLAN_BYTES).toBe(128 * 1024 * 1024);
    // Read one chunk past the cap, then the download was given up.
    expect(served).toBeLessThanOrEqual(MAX_PLAN_BYTES + 2 * chunk.byteLength);
    expect(cancelled).toBe(true);
    expect(calls[0]?.headers.Accept).toBe("application/octet-stream");
    expect(calls[0]?.headers.Authorization).toBe("Bearer run-token");
  });

  test("a claimed run's answer over 8 MiB is refused (502) without being parsed; meshStack's reason is read on one line and quoted at most 200 characters, masked", async () => {
    const huge = `{"x":"${"y".repeat(8 * 1024 * 1024)}"}`;
    const { client } = scripted([login(3600), () => new Response(huge, { status: 200 })]);
    const error = await client.claim("r").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshstackCallError);
    expect((error as MeshstackCallError).status).toBe(502);
    expect((error as MeshstackCallError).message).toContain(`over ${8 * 1024 * 1024} bytes`);
    const said = answerMessage(JSON.stringify({ message: `bad\nrequest ${"z".repeat(5000)}` }));
    expect(said).toHaveLength(4096);
    const scope = new Redactor();
    scope.add("zzzz-not-this");
    const detail = quotedReason(said ?? "", scope);
    expect(detail).toHaveLength(200);
    expect(detail.startsWith("bad request zzz")).toBe(true);
    expect(detail.endsWith("…")).toBe(true);
    expect(quotedReason("refused: zzzz-not-this", scope)).toBe("refused: [REDACTED]");
    // The client's own message never quotes meshStack: only the holder of the run's scope does, masked.
    const { client: patching } = scripted([json(400, { message: "value hunter2-secret is refused" })]);
    const refused = (await patching.patch("https://meshstack.test/x", "t", {}).catch((e: unknown) => e)) as MeshstackCallError;
    expect(refused.message).toBe("Cannot send the run's status: HTTP 400");
    expect(refused.detail).toBe("value hunter2-secret is refused");
  });

  test("login() registers the access token and a refresh token with the redactor, and keeps those of the last two logins only", async () => {
    const scope = new Redactor({ name: "login tokens test" });
    const answers = [1, 2, 3].map((n) => json(200, { access_token: `access-${n}-secret`, refresh_token: `refresh-${n}-secret`, expires_in: 300 }));
    const calls: string[] = [];
    const client = new MeshstackClient({
      baseUrl: "https://meshstack.test", auth: { kind: "apiKey", clientId: "cid", clientSecret: "cs" }, runnerName: "edge-runner", runnerVersion: "1", nodeId: "n", redaction: scope,
      fetch: (async (url: string) => {
        calls.push(String(url));
        return (answers.shift() as () => Response)();
      }) as typeof fetch,
    });
    const echo = (n: number) => `answer quoting Bearer access-${n}-secret and refresh-${n}-secret`;
    await client.login();
    expect(scope.text(echo(1))).toBe("answer quoting Bearer [REDACTED] and [REDACTED]");
    await client.login();
    expect(scope.text(`${echo(1)} ${echo(2)}`)).not.toContain("-secret");
    await client.login();
    // The first login's tokens are dropped (bounded), the last two logins' kept.
    expect(scope.text(echo(1))).toBe(echo(1));
    expect(scope.text(`${echo(2)} ${echo(3)}`)).not.toContain("-secret");
    expect(scope.count).toBe(4);
    expect(calls).toHaveLength(3);
  });

  test("login() refuses an access_token that cannot go in a header (not visible ASCII) and registers nothing", async () => {
    const scope = new Redactor({ name: "bad token test" });
    for (const token of ["a\udc00bcdefg", "with space token", "x".repeat(16_385)]) {
      const client = new MeshstackClient({
        baseUrl: "https://meshstack.test", auth: { kind: "apiKey", clientId: "cid", clientSecret: "cs" }, runnerName: "edge-runner", runnerVersion: "1", nodeId: "n", redaction: scope,
        fetch: (async () => json(200, { access_token: token, refresh_token: token, expires_in: 300 })()) as unknown as typeof fetch,
      });
      const error = (await client.login().catch((e: unknown) => e)) as MeshstackCallError;
      expect(error).toBeInstanceOf(MeshstackCallError);
      expect(error.message).toBe(`Cannot log in to meshStack: the answer has no usable "access_token"`);
    }
    expect(scope.count).toBe(0);
  });

  test("basic auth sends user:password on the API calls and never logs in; a refused login names the fix", async () => {
    const basic = scripted([json(404, {})], { kind: "basic", username: "svc", password: "pw" });
    await basic.client.claim("r");
    expect(basic.calls[0]?.headers.Authorization).toBe(`Basic ${Buffer.from("svc:pw").toString("base64")}`);
    const refused = scripted([json(401, { message: "Bad credentials" })]);
    const error = (await refused.client.claim("r").catch((e: unknown) => e)) as MeshstackCallError;
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("check meshstackClientId");
    expect(refused.client.lastLoginError?.message).toContain("HTTP 401");
  });
});

describe("parseRun()", () => {
  const valid = () => ({
    apiVersion: "v1",
    kind: "meshBuildingBlockRun",
    metadata: { uuid: "run-1" },
    spec: {
      runNumber: 3,
      behavior: "APPLY",
      runToken: "jwt",
      buildingBlock: { uuid: "bb", spec: { displayName: "x", workspaceIdentifier: "ws", inputs: [{ key: "a", value: 1, type: "INTEGER", isSensitive: false, isEnvironment: true }] } },
      buildingBlockDefinition: { uuid: "d", spec: { implementation: { type: "MANUAL" } } },
    },
    _links: { registerSource: { href: "https://m/s" }, updateSource: { href: "https://m/s/{sourceId}", templated: true } },
  });

  test("reads a run and its inputs", () => {
    const run = parseRun(valid(), "https://m");
    expect(run).toMatchObject({ uuid: "run-1", runNumber: 3, behavior: "APPLY", workspace: "ws", implementation: { type: "MANUAL" } });
    expect(run.inputs).toEqual([{ key: "a", value: 1, type: "INTEGER", isSensitive: false, isEnvironment: true }]);
  });

  test("refuses a bad run naming the field", () => {
    const cases: Array<[(doc: ReturnType<typeof valid>) => void, string]> = [
      [(d) => ((d.spec as { behavior: string }).behavior = "DELETE"), '"spec.behavior"'],
      [(d) => ((d.metadata as { uuid: string }).uuid = "../x"), '"metadata.uuid"'],
      [(d) => ((d.spec.buildingBlockDefinition.spec.implementation as { type: string }).type = "ANSIBLE"), 'implementation type "ANSIBLE"'],
      [(d) => ((d._links as Record<string, unknown>).updateSource = { href: "file:///etc/passwd" }), '"_links.updateSource.href"'],
      [(d) => d.spec.buildingBlock.spec.inputs.push({ key: "a", value: 2, type: "INTEGER", isSensitive: false, isEnvironment: false }), 'input "a" appears twice'],
      [(d) => ((d.spec as { runToken: unknown }).runToken = 42), '"spec.runToken"'],
      [(d) => ((d.spec as { runToken: unknown }).runToken = "eyJ\udc00x"), '"spec.runToken" must be visible ASCII (it goes in a header); it holds a non-ASCII character (U+DC00)'],
      [(d) => ((d.spec as { runToken: unknown }).runToken = "eyJ token"), '"spec.runToken" must be visible ASCII (it goes in a header); it holds a space (U+0020)'],
    ];
    for (const [spoil, field] of cases) {
      const doc = valid();
      spoil(doc);
      expect(() => parseRun(doc, "https://m")).toThrow(field);
    }
  });
});

describe("meshstackSettings()", () => {
  test("meshstackSettings() takes the API key when basic auth is set too (basic auth is the deprecated fallback)", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshstack-auth-"));
    try {
      writeFileSync(join(dir, "api-key"), "client-secret\n", { mode: 0o600 });
      writeFileSync(join(dir, "password"), "user-password\n", { mode: 0o600 });
      const both = ["--controller-kind", "meshstack", "--controller-url", "https://meshstack.example.com", "--runner-id", "0b4e6f0a-1111-4222-8333-944455556666", "--meshstack-username", "user", "--meshstack-password-file", join(dir, "password")];
      const config = (argv: string[]) => resolveConfig({ scopes: ["runner"], argv, env: {}, readFile: (file) => readFileSync(file, "utf8") }).config;
      expect(meshstackSettings(config([...both, "--meshstack-client-id", "client", "--api-key-file", join(dir, "api-key")])).auth).toEqual({ kind: "apiKey", clientId: "client", clientSecret: "client-secret" });
      expect(meshstackSettings(config(both)).auth).toEqual({ kind: "basic", username: "user", password: "user-password" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("meshstackClient(), the runner's client, registers the login's token with the process-wide redactor", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meshstack-token-"));
    const token = `eyJ-login-${crypto.randomUUID()}`;
    try {
      writeFileSync(join(dir, "api-key"), "client-secret-for-token-test\n", { mode: 0o600 });
      const argv = ["--controller-kind", "meshstack", "--controller-url", "https://meshstack.example.com", "--runner-id", "0b4e6f0a-1111-4222-8333-944455556666", "--meshstack-client-id", "client", "--api-key-file", join(dir, "api-key")];
      const config = resolveConfig({ scopes: ["runner"], argv, env: {}, readFile: (file) => readFileSync(file, "utf8") }).config;
      const client = meshstackClient(config, meshstackSettings(config), (async () => json(200, { access_token: token, expires_in: 300 })()) as unknown as typeof fetch);
      expect(redactor.text(`echoed ${token}`)).toBe(`echoed ${token}`);
      await client.login();
      expect(redactor.text(`echoed ${token}`)).toBe("echoed [REDACTED]");
    } finally {
      redactor.remove(token);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
