// Test helpers for the reference controller: a fake clock, a timer that only fires when told,
// temp data dirs, and an in-memory "runner" whose session collects what the controller sends.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { message, type ControllerMessage, type RunnerMessage, type WithoutVersion } from "../../src/protocol/edge-v1.ts";
import type { Timers } from "../../src/util/time.ts";
import { ReferenceController, type ReferenceControllerOptions } from "../../src/reference-controller/controller.ts";
import { SYNCHRONOUS, type GroupCommitOptions } from "../../src/reference-controller/group-commit.ts";
import type { JobJson } from "../../src/reference-controller/records.ts";
import type { EdgeSession } from "../../src/reference-controller/session.ts";
import type { StoreFixture } from "../helpers/stores.ts";

export class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A timer whose callbacks run only on `fireAll()`. */
export class ManualTimer implements Pick<Timers, "setTimeout" | "clearTimeout"> {
  readonly pending = new Map<number, () => void>();
  /** The delay of every `setTimeout`, in order. */
  readonly delays: number[] = [];
  #next = 1;
  setTimeout(callback: () => void, delayMs: number): unknown {
    this.delays.push(delayMs);
    const id = this.#next++;
    this.pending.set(id, callback);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const callbacks = [...this.pending.values()];
    this.pending.clear();
    for (const cb of callbacks) cb();
  }
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "edge-rc-test-"));
}

export interface Harness {
  controller: ReferenceController;
  clock: FakeClock;
  dataDir: string;
  records: ReturnType<typeof memoryLogger>["records"];
  reopen(extra?: Partial<ReferenceControllerOptions>): Promise<Harness>;
  /** What the controller was opened with. */
  options: ReferenceControllerOptions;
  /**
   * Waits until every change made so far is durable and what waited for it ran (offers, acks,
   * wake-ups): at once for the embedded store in these tests (each change is fsync'd before the
   * call returns), one COMMIT round trip or more for PostgreSQL.
   */
  settle(): Promise<void>;
}

function testOptions(dataDir: string, clock: FakeClock, extra: Partial<ReferenceControllerOptions>) {
  const { logger, records } = memoryLogger();
  const options: ReferenceControllerOptions = {
    dataDir,
    logger,
    clock,
    timer: new ManualTimer(),
    autoSweep: false,
    leaseTtlMs: 30_000,
    maxAttempts: 3,
    pollWaitMs: 50,
    adminToken: "test-admin-token",
    // Each change written and fsync'd before the call returns, so these tests read like a
    // conversation; group-commit.test.ts covers batching with the real scheduling.
    commit: SYNCHRONOUS,
    ...extra,
  };
  return { options, records };
}

function harness(controller: ReferenceController, options: ReferenceControllerOptions, clock: FakeClock, dataDir: string, records: Harness["records"], reopen: Harness["reopen"]): Harness {
  return {
    controller,
    options,
    clock,
    dataDir,
    records,
    reopen,
    async settle() {
      for (let i = 0; i < 100; i++) {
        await turns(2);
        // PostgreSQL: a job read again before a refusal (stale-view-recheck.ts) is handled after its read.
        const store = controller.core.store as { readsSettled?: () => Promise<void> };
        if (store.readsSettled !== undefined) await store.readsSettled();
        await turns(1);
        if (controller.core.store.commits.idle || controller.core.store.commits.failure !== undefined) return;
        await controller.durable().catch(() => {});
      }
    },
  };
}

export function makeController(extra: Partial<ReferenceControllerOptions> = {}, dataDir = tempDir(), clock = new FakeClock()): Harness {
  const { options, records } = testOptions(dataDir, clock, extra);
  const controller = ReferenceController.create(options);
  return harness(controller, options, clock, dataDir, records, async (more = {}) => {
    await controller.close();
    return makeController({ ...extra, ...more }, dataDir, clock);
  });
}

/** Another replica on the same PostgreSQL database as `of` (its own data directory, the same clock). */
export async function openReplica(of: Harness, extra: Partial<ReferenceControllerOptions> = {}): Promise<Harness> {
  const { storeUrl, storePassword, storePingMs } = of.options;
  if (storeUrl === undefined) throw new Error("Replicas need a controller on PostgreSQL");
  // Every replica seals secrets with the same key (a replica with another one is refused).
  const secretsKeyFile = of.options.secretsKeyFile ?? path.join(of.dataDir, "controller", "secrets.key");
  return reopenController({ storeUrl, secretsKeyFile, ...(storePassword === undefined ? {} : { storePassword }), ...(storePingMs === undefined ? {} : { storePingMs }), ...extra }, tempDir(), of.clock);
}

/** A controller on `store` (embedded, or a fresh PostgreSQL database): see test/helpers/stores.ts. */
export async function openController(store: StoreFixture, extra: Partial<ReferenceControllerOptions> = {}, dataDir = tempDir(), clock = new FakeClock()): Promise<Harness> {
  return reopenController({ ...(await store.options()), ...extra }, dataDir, clock);
}

async function reopenController(extra: Partial<ReferenceControllerOptions>, dataDir: string, clock: FakeClock): Promise<Harness> {
  const { options, records } = testOptions(dataDir, clock, extra);
  const controller = await ReferenceController.open(options);
  return harness(controller, options, clock, dataDir, records, async (more = {}) => {
    await controller.close();
    return reopenController({ ...extra, ...more }, dataDir, clock);
  });
}

/** A runner connected in memory: `sent` is everything the controller sent to it. */
export class FakeRunner {
  readonly sent: ControllerMessage[] = [];
  session!: EdgeSession;
  apiKey = "";
  closedWith: number | undefined;

  constructor(readonly controller: ReferenceController, readonly id: string, readonly group = "default") {}

  static connect(controller: ReferenceController, id: string, group = "default", apiKey?: string): FakeRunner {
    const runner = new FakeRunner(controller, id, group);
    // Registered in memory like the admin API does (its batch is the next one; close flushes it):
    // connect() stays synchronous, and the tests that wait for durability settle.
    runner.apiKey = apiKey ?? controller.runners.register({ id, group }).apiKey;
    runner.reconnect();
    return runner;
  }

  /** A new session of the same runner (replaces the old one). */
  reconnect(): this {
    const created = this.controller.sessions.create({ v: 1, runnerId: this.id, group: this.group, version: "test", transport: "websocket" }, this.apiKey);
    const session = this.controller.core.sessions.get(created.sessionId) as EdgeSession;
    session.attachSocket({
      send: (data) => this.sent.push(JSON.parse(data) as ControllerMessage),
      close: (code) => (this.closedWith = code),
    });
    this.session = session;
    return this;
  }

  send(body: WithoutVersion<RunnerMessage>): void {
    this.controller.messages.handleFrame(this.session, JSON.stringify(message(body)));
  }

  raw(frame: unknown): void {
    this.controller.messages.handleFrame(this.session, frame);
  }

  of<T extends ControllerMessage["type"]>(type: T): Array<Extract<ControllerMessage, { type: T }>> {
    return this.sent.filter((m) => m.type === type) as Array<Extract<ControllerMessage, { type: T }>>;
  }

  last<T extends ControllerMessage["type"]>(type: T): Extract<ControllerMessage, { type: T }> {
    const all = this.of(type);
    const m = all[all.length - 1];
    if (m === undefined) throw new Error(`No "${type}" message was sent to runner "${this.id}"`);
    return m;
  }
}

/**
 * Group-commit scheduling driven by the test: flushes run on `flush()`, and each fsync is held
 * until `completeFsyncs()`, so a test sees exactly what is sent before and after the disk says yes.
 */
export class ManualCommits {
  readonly scheduled: Array<() => void> = [];
  readonly held: Array<{ fd: number; done: (error: Error | null) => void }> = [];
  readonly options: GroupCommitOptions = {
    schedule: (flush) => void this.scheduled.push(flush),
    fsync: (fd, done) => void this.held.push({ fd, done }),
  };

  /** Runs the scheduled flushes (they write and start their fsyncs). */
  flush(): void {
    for (const flush of this.scheduled.splice(0)) flush();
  }

  /** Completes every held fsync (really fsyncing unless an error is given). */
  completeFsyncs(error: Error | null = null): void {
    for (const { fd, done } of this.held.splice(0)) {
      if (error === null) fs.fsyncSync(fd);
      done(error);
    }
  }

  /** Flushes and completes until nothing is left. */
  settle(): void {
    while (this.scheduled.length > 0 || this.held.length > 0) {
      this.flush();
      this.completeFsyncs();
    }
  }
}

/** Lets pending promise callbacks and I/O callbacks run (not a timing wait). */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Runner "r1" connected and one echo job offered to it (attempt 1), once that is durable. */
/** Time passes past every lease (30 s by default) and the sweep runs: what it expired is queued again or failed. */
export async function expireLeases(h: Harness, ms = 30_000): Promise<void> {
  h.clock.advance(ms);
  h.controller.sweep();
  await h.settle();
}

export async function leaseOne(h: Harness): Promise<{ r: FakeRunner; job: JobJson }> {
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  await h.settle();
  return { r, job };
}
