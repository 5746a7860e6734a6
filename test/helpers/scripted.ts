// In-memory stand-ins for the runner's seams, so Runner, runJob and EdgeConnection are tested
// without ports (as Hono tests its app with app.request): timers advanced by hand, a scripted
// controller connection and job handle, and a scripted session/transport opener.

import type { ConnectionState, ConnectionStatus, ControllerConnection, JobHandle } from "../../src/controller/connection.ts";
import type { TransportOpener } from "../../src/controller/edge/opener.ts";
import type { OpenTransportOptions, Transport, TransportClosed, TransportKind } from "../../src/controller/edge/transport.ts";
import type { RedactionScope } from "../../src/log/redact.ts";
import type { ControllerMessage, CreateSessionResponse, JobOffer, JobResult, LogLine, RunnerMessage, StepUpdate, WireError } from "../../src/protocol/edge-v1.ts";
import type { Timers } from "../../src/util/time.ts";

/** `now()` and `sleep()` that move only when the test calls advance(). */
export class ManualClock implements Pick<Timers, "now" | "sleep"> {
  #now: number;
  #sleeps: Array<{ until: number; resolve: () => void }> = [];
  /** Every sleep asked for, in order (ms). */
  readonly asked: number[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.asked.push(ms);
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = { until: this.#now + ms, resolve };
      this.#sleeps.push(entry);
      signal?.addEventListener("abort", () => {
        this.#sleeps = this.#sleeps.filter((s) => s !== entry);
        resolve();
      }, { once: true });
    });
  };

  /** Moves time forward and wakes every sleep that is due, then lets promise chains run. */
  async advance(ms: number): Promise<void> {
    this.#now += ms;
    const due = this.#sleeps.filter((s) => s.until <= this.#now);
    this.#sleeps = this.#sleeps.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
    await settle();
  }
}

/** Lets pending promise reactions and microtasks run (a few macrotask turns, no wall-clock wait). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function offer(id: string, fields: Partial<JobOffer> = {}): JobOffer {
  return { id, attempt: 1, group: "g", plugin: "echo", action: "default", input: null, leaseExpiresAt: 0, submittedAt: 0, ...fields };
}

/** A JobHandle that records every call. */
export class ScriptedHandle implements JobHandle {
  readonly job: JobOffer;
  readonly calls: Array<{ call: "accept" } | { call: "reject"; error: WireError } | { call: "log"; lines: LogLine[] } | { call: "step"; step: StepUpdate } | { call: "complete"; result: JobResult }> = [];
  readonly #abort = new AbortController();
  readonly redaction?: RedactionScope;
  completed: JobResult | undefined;

  constructor(job: JobOffer, redaction?: RedactionScope) {
    this.job = job;
    if (redaction !== undefined) this.redaction = redaction;
  }

  get signal(): AbortSignal { return this.#abort.signal; }
  cancel(reason: string): void { this.#abort.abort(reason); }
  accept(): void { this.calls.push({ call: "accept" }); }
  reject(error: WireError): void { this.calls.push({ call: "reject", error }); }
  log(lines: LogLine[]): void { this.calls.push({ call: "log", lines }); }
  step(step: StepUpdate): void { this.calls.push({ call: "step", step }); }
  complete(result: JobResult): Promise<{ accepted: boolean }> {
    this.completed = result;
    this.calls.push({ call: "complete", result });
    return Promise.resolve({ accepted: true });
  }
}

/** A ControllerConnection the test drives: state changes, offers, and what the runner granted. */
export class ScriptedConnection implements ControllerConnection {
  readonly kind = "scripted";
  readonly freeSlots: number[] = [];
  #status: ConnectionStatus = { state: "idle", since: 0, reconnects: 0, protocolErrors: 0 };
  #listeners = new Set<(status: ConnectionStatus) => void>();
  #onJob: ((handle: JobHandle) => void) | undefined;
  #stopped: (() => void) | undefined;
  flushed = 0;

  status(): ConnectionStatus { return { ...this.#status }; }
  onStateChange(listener: (status: ConnectionStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  setFreeSlots(free: number): void { this.freeSlots.push(free); }
  run(options: { signal: AbortSignal; onJob: (handle: JobHandle) => void }): Promise<void> {
    this.#onJob = options.onJob;
    return new Promise((resolve) => {
      this.#stopped = resolve;
      options.signal.addEventListener("abort", () => { this.to("closed"); resolve(); }, { once: true });
    });
  }
  flush(): Promise<void> { this.flushed++; return Promise.resolve(); }

  to(state: ConnectionState, lastError?: string): void {
    this.#status = { ...this.#status, state, since: this.#status.since + 1, ...(state === "connected" ? { transport: "websocket" } : {}), ...(lastError === undefined ? {} : { lastError }) };
    for (const listener of this.#listeners) listener(this.status());
  }
  give(handle: JobHandle): void {
    if (this.#onJob === undefined) throw new Error("the runner has not started the connection");
    this.#onJob(handle);
  }
  get running(): boolean { return this.#stopped !== undefined; }
}

/** One session's transport as the test sees it: what the runner sent, and a way to answer. */
export class ScriptedTransport implements Transport {
  readonly kind: TransportKind;
  readonly sent: RunnerMessage[] = [];
  readonly closed: Promise<TransportClosed>;
  #end: (closed: TransportClosed) => void = () => {};
  readonly #onFrame: (frame: unknown) => void;

  constructor(kind: TransportKind, options: OpenTransportOptions) {
    this.kind = kind;
    this.#onFrame = options.onFrame;
    this.closed = new Promise((resolve) => (this.#end = resolve));
  }

  send(messages: RunnerMessage[]): void { this.sent.push(...messages); }
  close(): void { this.#end({ reason: "closed by runner", code: "connection_failed" }); }
  /** The controller sends a message (or any raw frame). */
  deliver(message: ControllerMessage | unknown): void { this.#onFrame(message); }
  /** The controller or the network ends the session. */
  drop(closed: TransportClosed): void { this.#end(closed); }
  of<T extends RunnerMessage["type"]>(type: T): Array<Extract<RunnerMessage, { type: T }>> {
    return this.sent.filter((m): m is Extract<RunnerMessage, { type: T }> => m.type === type);
  }
}

/**
 * Sessions and transports from a script: each session attempt takes the next entry (an error to
 * throw, or "ok"); each transport opened is kept in `transports`, the latest one being live.
 */
export class ScriptedOpener implements TransportOpener {
  readonly transports: ScriptedTransport[] = [];
  sessions = 0;
  readonly #script: Array<Error | "ok">;
  readonly #opens: Array<Error | "ok">;

  constructor(script: Array<Error | "ok"> = [], opens: Array<Error | "ok"> = []) {
    this.#script = script;
    this.#opens = opens;
  }

  session(): Promise<CreateSessionResponse> {
    this.sessions++;
    const next = this.#script.shift() ?? "ok";
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve({ v: 1, sessionId: `s${this.sessions}`, token: "t", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 1000 });
  }

  open(kind: TransportKind, options: OpenTransportOptions): Promise<Transport> {
    const next = this.#opens.shift() ?? "ok";
    if (next instanceof Error) return Promise.reject(next);
    const transport = new ScriptedTransport(kind, options);
    this.transports.push(transport);
    return Promise.resolve(transport);
  }

  get live(): ScriptedTransport {
    const last = this.transports.at(-1);
    if (last === undefined) throw new Error("no transport opened yet");
    return last;
  }
}
