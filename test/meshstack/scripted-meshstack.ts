// meshStack replaced by a scripted fetch, for answers the fake meshStack does not give (the same
// run handed out twice, a 2xx answer over 64 KiB, a 409 on the first final status, links to
// another host): a MeshstackConnection with its outbox in a temporary directory and, unless asked
// otherwise, a real Runner and plugin pool. `claims` answers the claims in turn (then 404);
// `register` and `patch` answer those calls; every call is recorded in `calls`.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { memoryLogger } from "../../src/log/logger.ts";
import { redactor } from "../../src/log/redact.ts";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { MeshstackConnection } from "../../src/controller/meshstack/meshstack-connection.ts";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import type { PluginChoice } from "../../src/controller/meshstack/implementations.ts";
import type { ImplementationType } from "../../src/controller/meshstack/run-document.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import { jobSecretResolver } from "../../src/plugins/run-services.ts";
import { Runner } from "../../src/runner/runner.ts";
import { tempDir } from "../helpers/harness.ts";

export const RUNNER = "runner-uuid-1";
export const BASE = "https://meshstack.test";
export interface Call { method: string; url: string; headers: Record<string, string>; body?: string }

/** A claimed run document as meshStack serves it, links under BASE. */
export function runDoc(uuid: string, over: { implementation?: Record<string, unknown>; inputs?: unknown[]; token?: string } = {}) {
  const self = `${BASE}/api/meshobjects/meshbuildingblockruns/${uuid}`;
  return {
    apiVersion: "v1", kind: "meshBuildingBlockRun", metadata: { uuid }, status: "IN_PROGRESS",
    spec: {
      runNumber: 1, behavior: "APPLY", runToken: over.token ?? `eyJhbGciOiJub25lIn0.${uuid}.sig`,
      buildingBlock: { uuid: "bb", spec: { displayName: "bb", workspaceIdentifier: "ws", inputs: over.inputs ?? [] } },
      buildingBlockDefinition: { uuid: "d", spec: { workspaceIdentifier: "pws", version: 1, implementation: over.implementation ?? { type: "MANUAL" } } },
    },
    _links: { self: { href: self }, registerSource: { href: `${self}/status/source` }, updateSource: { href: `${self}/status/source/{sourceId}`, templated: true }, meshstackBaseUrl: { href: BASE } },
  };
}

/** An input the echo plugin's `sleep` action reads: how long the run takes. */
export const sleepInput = (ms: number) => ({ key: "ms", value: ms, type: "INTEGER", isSensitive: false, isEnvironment: false });

export interface Script {
  claims: Array<() => Response>;
  register?: (call: Call) => Response;
  patch?: (call: Call) => Response;
}

export interface ScriptedOptions {
  concurrency?: number;
  statusIntervalMs?: number;
  pollIntervalMs?: number;
  plugins?: Partial<Record<ImplementationType, PluginChoice>>;
}

export async function startScripted(script: Script, options: ScriptedOptions = {}) {
  const calls: Call[] = [];
  const fetchStub = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const headers = { ...((init?.headers ?? {}) as Record<string, string>) };
    const call: Call = { method: init?.method ?? "GET", url, headers, ...(typeof init?.body === "string" ? { body: init.body } : {}) };
    calls.push(call);
    if (url.endsWith("/api/login")) return Response.json({ access_token: "login-token-xyz", expires_in: 3600 });
    if (url.includes("/create?forRunnerUuid=")) {
      const next = script.claims.shift();
      return next === undefined ? new Response(null, { status: 404 }) : next();
    }
    if (call.method === "POST" && url.endsWith("/status/source")) return script.register === undefined ? Response.json({}) : script.register(call);
    if (call.method === "PATCH") return script.patch === undefined ? Response.json({ runAborted: false }) : script.patch(call);
    return new Response(null, { status: 404 });
  }) as unknown as typeof fetch;
  const data = tempDir("meshstack-scripted-");
  const { logger, records } = memoryLogger("debug");
  const store = new RunOutboxStore(data.dir, new AtRestCipher(randomBytes(32), "meshStack outbox"));
  const client = new MeshstackClient({ baseUrl: BASE, auth: { kind: "apiKey", clientId: "cid", clientSecret: "cs" }, runnerName: "edge-runner", runnerVersion: "t", nodeId: "n1", requestTimeoutMs: 2000, fetch: fetchStub });
  const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const connection = new MeshstackConnection({
    client, runnerUuid: RUNNER, store, keys: () => [key], plugins: options.plugins ?? {}, logger,
    pollIntervalMs: options.pollIntervalMs ?? 50, statusIntervalMs: options.statusIntervalMs ?? 200, logIntervalMs: 50, retryMinMs: 20, retryMaxMs: 200,
  });
  const pool = new PluginPool({ idleMs: 60_000, logger, cancelGraceMs: 200, secrets: (request: { jobId: string }) => jobSecretResolver(request.jobId, connection.secretsFor(request.jobId)) } as never);
  const runner = new Runner({ runnerId: RUNNER, group: "meshstack", controllerUrl: BASE, concurrency: options.concurrency ?? 2, jobTimeoutMs: 30_000, drainTimeoutMs: 3000, connection, executor: pool, logger, flushTimeoutMs: 2000 } as never);
  runner.start();
  return {
    calls, records, connection, runner,
    async stop() {
      await runner.interruptNow();
      data.remove();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 20 ms until it returns something truthy, or `ms` pass (then undefined). */
export async function until<T>(probe: () => T | undefined | false, ms = 8000): Promise<T | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = probe();
    if (value) return value;
    await sleep(20);
  }
  return undefined;
}
