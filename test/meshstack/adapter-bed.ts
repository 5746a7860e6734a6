// The meshStack adapter in process for tests: the fake meshStack over loopback, a
// MeshstackConnection with its outbox in a temporary data directory and, unless asked otherwise,
// a Runner with the real plugin pool. Used by adapter.test.ts and outbox-at-rest.test.ts.

import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { memoryLogger, type LogLevel, type LogRecord } from "../../src/log/logger.ts";
import { redactor } from "../../src/log/redact.ts";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { MeshstackConnection } from "../../src/controller/meshstack/meshstack-connection.ts";
import { RunOutboxStore, type RunRecord } from "../../src/controller/meshstack/outbox.ts";
import type { PluginChoice } from "../../src/controller/meshstack/implementations.ts";
import type { ImplementationType } from "../../src/controller/meshstack/run-document.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import type { AtRestKeyRing } from "../../src/secrets/at-rest-ring.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import type { PluginResolver } from "../../src/plugins/plugin-ref.ts";
import { jobSecretResolver } from "../../src/plugins/run-services.ts";
import { Runner } from "../../src/runner/runner.ts";
import { tempDir } from "../helpers/harness.ts";
import { FakeMeshstack } from "./fake-meshstack.ts";

/** The runner's key pair that the fake encrypts inputs to, made once per test file. */
export const runnerKeys = (() => {
  let made: { privateKey: KeyObject; publicPem: string } | undefined;
  return () => {
    if (made === undefined) {
      const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
      made = { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: "spki", format: "pem" }) as string };
    }
    return made;
  };
})();

/** What each test started, stopped in reverse order by `cleanUp()` (call it in afterEach). */
const cleanups: Array<() => Promise<void> | void> = [];
export async function cleanUp(): Promise<void> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

export function startFake(): Promise<FakeMeshstack> {
  return new FakeMeshstack({ clientId: "cid", clientSecret: "csecret", publicKeyPem: runnerKeys().publicPem }).start().then((fake) => {
    cleanups.push(async () => {
      await fake.stop();
      // Every request of every test is checked against the protocol (fake-meshstack-headers.ts,
      // fake-meshstack-bodies.ts): a drift in what the runner sends fails the test that sent it.
      if (fake.violations.length > 0) throw new Error(`The runner sent requests meshStack's API does not take:\n${fake.violations.join("\n")}`);
    });
    return fake;
  });
}

export function dataDirOf(prefix = "meshstack-adapter-"): string {
  const t = tempDir(prefix);
  cleanups.push(t.remove);
  return t.dir;
}

export interface AdapterOptions {
  concurrency?: number;
  prefetch?: number;
  plugins?: Partial<Record<ImplementationType, PluginChoice>>;
  fake?: FakeMeshstack;
  dataDir?: string;
  statusIntervalMs?: number;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
  /** The outbox's cipher, or its key ring as a running runner reads it; a fresh key by default. */
  cipher?: AtRestCipher | (() => AtRestKeyRing);
  /** false: the connection alone, run until cleanUp() (it reports what the outbox holds and claims nothing). */
  runner?: boolean;
  /** Where plugins that are not built-ins come from (a test's own plugin as a data: URL bundle). */
  resolve?: PluginResolver;
  /** The lowest level of the log records kept in `logs`; default error. */
  logLevel?: LogLevel;
}

export interface Adapter {
  fake: FakeMeshstack;
  runner: Runner | undefined;
  connection: MeshstackConnection;
  dataDir: string;
  logs: LogRecord[];
  /** Every outbox record as it was written, before it was sealed (JSON). */
  outboxWrites: string[];
}

/** The outbox, also keeping each record written as its JSON before sealing: what the files hold under the seal. */
class RecordingStore extends RunOutboxStore {
  readonly writes: string[] = [];
  override save(record: RunRecord): Promise<void> {
    this.writes.push(JSON.stringify(record));
    return super.save(record);
  }
}

export async function startAdapter(options: AdapterOptions = {}): Promise<Adapter> {
  const fake = options.fake ?? (await startFake());
  const dataDir = options.dataDir ?? dataDirOf();
  const { logger, records } = memoryLogger(options.logLevel ?? "error");
  const store = new RecordingStore(dataDir, options.cipher ?? new AtRestCipher(randomBytes(32), "meshStack outbox"));
  // The login's tokens go to the process redactor, as meshstackClient() (from-config.ts) wires them.
  const client = new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "cid", clientSecret: "csecret" }, runnerName: "edge-runner", runnerVersion: "test", nodeId: "node-1", requestTimeoutMs: options.requestTimeoutMs ?? 2000, redaction: redactor });
  const connection = new MeshstackConnection({
    client,
    runnerUuid: fake.runnerUuid,
    store,
    keys: () => [runnerKeys().privateKey],
    plugins: options.plugins ?? {},
    logger,
    pollIntervalMs: options.pollIntervalMs ?? 50,
    statusIntervalMs: options.statusIntervalMs ?? 200,
    logIntervalMs: 50,
    retryMinMs: 20,
    retryMaxMs: 200,
  });
  if (options.runner === false) {
    const stop = new AbortController();
    const running = connection.run({ signal: stop.signal, onJob: () => {} });
    cleanups.push(() => {
      stop.abort();
      return running;
    });
    return { fake, runner: undefined, connection, dataDir, logs: records, outboxWrites: store.writes };
  }
  const pool = new PluginPool({ idleMs: 60_000, logger, cancelGraceMs: 200, ...(options.resolve === undefined ? {} : { resolve: options.resolve }), secrets: (request) => jobSecretResolver(request.jobId, connection.secretsFor(request.jobId)) });
  const runner = new Runner({ runnerId: fake.runnerUuid, group: "meshstack", controllerUrl: fake.url, concurrency: options.concurrency ?? 2, ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }), jobTimeoutMs: 30_000, drainTimeoutMs: 5000, connection, executor: pool, logger, flushTimeoutMs: 3000 });
  runner.start();
  cleanups.push(() => runner.interruptNow());
  return { fake, runner, connection, dataDir, logs: records, outboxWrites: store.writes };
}

export const ended = (fake: FakeMeshstack, uuid: string) => () => (fake.run(uuid).status !== "IN_PROGRESS" ? fake.run(uuid) : undefined);

/** A run claimed from the fake, as the runner's record of it: the register call and the final status still to send. */
export async function claimedRecord(fake: FakeMeshstack, summary: string): Promise<RunRecord> {
  const uuid = fake.addRun({ type: "MANUAL", workspace: "ws-sealed" });
  const client = new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "cid", clientSecret: "csecret" }, runnerName: "edge-runner", runnerVersion: "test", nodeId: "n" });
  await client.claim(fake.runnerUuid);
  const base = `${fake.url}/api/meshobjects/meshbuildingblockruns/${uuid}/status/source`;
  const step = { id: "manual", displayName: "Manual" };
  return {
    uuid, runToken: fake.run(uuid).runToken, registerUrl: base, updateUrl: `${base}/${fake.runnerUuid}`, claimedAt: Date.now(), phase: "ending", workspace: "ws-sealed", implementationType: "MANUAL", nextSeq: 3,
    pending: [
      { seq: 1, kind: "register", body: { source: { id: fake.runnerUuid }, steps: [{ ...step, status: "PENDING" }] } },
      { seq: 2, kind: "patch", body: { status: "SUCCEEDED", summary, steps: [{ ...step, status: "SUCCEEDED" }] }, final: true },
    ],
  };
}
