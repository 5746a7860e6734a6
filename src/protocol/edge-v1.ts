// Edge protocol v1: every message between runner and controller, as one discriminated union per
// direction, and the parser that turns an untrusted frame into one of them or a clear error.
// docs/protocol.md is the prose version of this file; keep them together.

import { nestsDeeperThan } from "../util/json-bounds.ts";
import { hasLoneSurrogate } from "../util/well-formed.ts";
import { MAX_ERROR_CODE_CHARS, MAX_LOG_LINES } from "./limits.ts";

export const PROTOCOL_VERSION = 1;

export type JobStatus = "succeeded" | "failed" | "cancelled" | "timed_out" | "interrupted";
export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface WireError {
  code: string;
  message: string;
}

/** A job as offered to a runner: everything it needs to run one attempt. */
export interface JobOffer {
  id: string;
  /** 1 for the first lease, +1 for each new lease; with `id` it is the idempotency key and the fencing token. */
  attempt: number;
  group: string;
  plugin: string;
  action: string;
  input: unknown;
  /** Per-job timeout; absent means the runner's default. */
  timeoutMs?: number;
  /** Secret references the job declared at submit: the only ones it may resolve (ctx.secrets.get). */
  secrets?: string[];
  /** Epoch ms when the lease lapses unless a heartbeat extends it. */
  leaseExpiresAt: number;
  submittedAt: number;
}

/**
 * How a job attempt ended: the one shape from the plugin worker host through the pool and the
 * runner to the `result` message. The pool reports every ending, `interrupted` included.
 */
export interface JobOutcome {
  status: JobStatus;
  output?: unknown;
  error?: WireError;
  /** Artifacts the plugin kept (ctx.artifacts.put), with size and digest; kept in every outcome. */
  artifacts?: ArtifactRecord[];
}

/** What an outcome carries for each artifact. */
export interface ArtifactRecord {
  name: string;
  size: number;
  /** Lower-case hex SHA-256 of the bytes, computed by the runner while they streamed. */
  sha256: string;
  contentType?: string;
}

/** An outcome with its timing: what a `result` message reports. */
export interface JobResult extends JobOutcome {
  startedAt: number;
  finishedAt: number;
}

export interface LeaseRef {
  jobId: string;
  attempt: number;
}

export interface LogLine {
  ts: number;
  level: LogLevel;
  msg: string;
}

export interface StepUpdate {
  id: string;
  name?: string;
  status: StepStatus;
  message?: string;
}

// ---- runner → controller ----

export type RunnerMessage =
  /** Allows `slots` more offers; with `reset: true` the remaining credit becomes `slots` (used to shrink it, e.g. to 0 when draining). */
  | { v: 1; type: "credit"; slots: number; reset?: boolean }
  | { v: 1; type: "accept"; jobId: string; attempt: number }
  | { v: 1; type: "reject"; jobId: string; attempt: number; error: WireError }
  /** Gives back an offered job the runner held and never started: re-queued at once, no attempt used. */
  | { v: 1; type: "release"; jobId: string; attempt: number }
  | { v: 1; type: "heartbeat"; leases: LeaseRef[] }
  | { v: 1; type: "log"; jobId: string; attempt: number; seq: number; lines: LogLine[] }
  | { v: 1; type: "step"; jobId: string; attempt: number; seq: number; step: StepUpdate }
  | ({
      v: 1;
      type: "result";
      jobId: string;
      attempt: number;
      /** Seq of the last log/step event of this attempt (0 when there were none). */
      lastSeq: number;
    } & JobResult)
  | { v: 1; type: "error"; error: WireError };

// ---- controller → runner ----

export type ControllerMessage =
  | { v: 1; type: "offer"; job: JobOffer }
  | { v: 1; type: "cancel"; jobId: string; attempt: number; reason: string }
  | { v: 1; type: "heartbeat_ack"; leases: Array<LeaseRef & { ok: boolean; leaseExpiresAt?: number; reason?: string }> }
  | { v: 1; type: "ack"; jobId: string; attempt: number; seq: number }
  | { v: 1; type: "result_ack"; jobId: string; attempt: number; accepted: boolean; reason?: ResultRefusal; expectedSeq?: number }
  | { v: 1; type: "error"; error: WireError };

/** Why a result is refused: `stale_attempt` and `unknown_job` are final; `events_missing` asks for a resend. */
export type ResultRefusal = "stale_attempt" | "unknown_job" | "events_missing";

export type AnyMessage = RunnerMessage | ControllerMessage;

// ---- HTTP bodies (session creation, long-poll) ----

export interface CreateSessionRequest {
  v: 1;
  runnerId: string;
  group: string;
  version: string;
  transport: "websocket" | "poll";
}

export interface CreateSessionResponse {
  v: 1;
  sessionId: string;
  /** Single-use for the WebSocket attach; the bearer token for long-poll calls. */
  token: string;
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  /** How long a long-poll receive may hold before answering with no messages. */
  pollWaitMs: number;
  /**
   * Protocol features the controller understands beyond the base of v1 (EDGE_FEATURES); missing
   * from a controller that predates the list. A runner uses a feature only where it is listed.
   */
  features?: string[];
}

/**
 * The optional features of edge protocol v1, named in the session answer's `features`.
 * `release`: the controller re-queues an offered job given back unstarted (no attempt used), so
 * a runner may hold offered jobs beyond its free slots (local prefetch).
 */
export const EDGE_FEATURES = ["release"] as const;
export type EdgeFeature = (typeof EDGE_FEATURES)[number];

export interface MessageBatch<M> {
  messages: M[];
}

// ---- parsing ----

export type ParseResult<M> =
  | { ok: true; message: M }
  /** `unknown_type` is to be logged and ignored; `malformed` answered with an error frame. */
  | { ok: false; kind: "malformed" | "unknown_type"; error: WireError };

const RUNNER_TYPES = ["credit", "accept", "reject", "release", "heartbeat", "log", "step", "result", "error"] as const;
const CONTROLLER_TYPES = ["offer", "cancel", "heartbeat_ack", "ack", "result_ack", "error"] as const;
const JOB_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled", "timed_out", "interrupted"];
const STEP_STATUSES: readonly StepStatus[] = ["pending", "running", "succeeded", "failed", "skipped"];
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

class Malformed extends Error {}

/** Deepest nesting a message may have (a job's input or output is held to less on storage). */
export const MAX_MESSAGE_DEPTH = 100;

type Obj = Record<string, unknown>;

function need(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Malformed(what);
}
function obj(v: unknown, field: string): Obj {
  need(v !== null && typeof v === "object" && !Array.isArray(v), `"${field}" must be an object`);
  return v as Obj;
}
function str(o: Obj, field: string, max = 1024, label = field): string {
  const v = o[field];
  need(typeof v === "string" && v.length > 0 && v.length <= max, `"${label}" must be a non-empty string of at most ${max} characters`);
  // Ids, names and codes become file names, storage keys and URL paths (encodeURIComponent throws on one).
  need(!hasLoneSurrogate(v), `"${label}" must be well-formed Unicode (it holds a lone UTF-16 surrogate)`);
  return v;
}
function int(o: Obj, field: string, min = 0): number {
  const v = o[field];
  need(typeof v === "number" && Number.isSafeInteger(v) && v >= min, `"${field}" must be an integer ≥ ${min}`);
  return v;
}
function optInt(o: Obj, field: string, min = 0): void {
  if (o[field] !== undefined) int(o, field, min);
}
function oneOf<T extends string>(o: Obj, field: string, values: readonly T[]): T {
  const v = o[field];
  need(typeof v === "string" && (values as readonly string[]).includes(v), `"${field}" must be one of ${values.join(", ")}`);
  return v as T;
}
function arr(o: Obj, field: string, max = 10_000): unknown[] {
  const v = o[field];
  need(Array.isArray(v) && v.length <= max, `"${field}" must be an array of at most ${max} items`);
  return v;
}
function wireError(v: unknown, field: string): void {
  const e = obj(v, field);
  str(e, "code", MAX_ERROR_CODE_CHARS);
  need(typeof e.message === "string", `"${field}.message" must be a string`);
}
function lease(v: unknown): void {
  const l = obj(v, "lease");
  str(l, "jobId");
  int(l, "attempt", 1);
}

const runnerValidators: Record<RunnerMessage["type"], (m: Obj) => void> = {
  credit: (m) => {
    int(m, "slots", 0);
    need(m.reset === undefined || typeof m.reset === "boolean", `"reset" must be a boolean`);
  },
  accept: (m) => { str(m, "jobId"); int(m, "attempt", 1); },
  reject: (m) => { str(m, "jobId"); int(m, "attempt", 1); wireError(m.error, "error"); },
  release: (m) => { str(m, "jobId"); int(m, "attempt", 1); },
  heartbeat: (m) => arr(m, "leases").forEach(lease),
  log: (m) => {
    str(m, "jobId"); int(m, "attempt", 1); int(m, "seq", 1);
    for (const l of arr(m, "lines", MAX_LOG_LINES)) {
      const line = obj(l, "lines[]");
      int(line, "ts"); oneOf(line, "level", LOG_LEVELS);
      need(typeof line.msg === "string", `"lines[].msg" must be a string`);
    }
  },
  step: (m) => {
    str(m, "jobId"); int(m, "attempt", 1); int(m, "seq", 1);
    const s = obj(m.step, "step");
    str(s, "id", 256); oneOf(s, "status", STEP_STATUSES);
  },
  result: (m) => {
    str(m, "jobId"); int(m, "attempt", 1); int(m, "lastSeq", 0); oneOf(m, "status", JOB_STATUSES);
    int(m, "startedAt"); int(m, "finishedAt");
    if (m.error !== undefined) wireError(m.error, "error");
    if (m.artifacts !== undefined) {
      for (const a of arr(m, "artifacts", 32)) {
        const ref = obj(a, "artifacts[]");
        need(typeof ref.name === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(ref.name), `"artifacts[].name" must be an artifact name`);
        int(ref, "size");
        need(typeof ref.sha256 === "string" && /^[0-9a-f]{64}$/.test(ref.sha256), `"artifacts[].sha256" must be 64 lower-case hex digits`);
        if (ref.contentType !== undefined) str(ref, "contentType", 200);
      }
    }
  },
  error: (m) => wireError(m.error, "error"),
};

const controllerValidators: Record<ControllerMessage["type"], (m: Obj) => void> = {
  offer: (m) => {
    const j = obj(m.job, "job");
    str(j, "id", 1024, "job.id"); int(j, "attempt", 1); str(j, "group", 1024, "job.group"); str(j, "plugin", 1024, "job.plugin"); str(j, "action", 1024, "job.action");
    int(j, "leaseExpiresAt"); int(j, "submittedAt"); optInt(j, "timeoutMs", 1);
    if (j.secrets !== undefined) for (const ref of arr(j, "secrets", 50)) need(typeof ref === "string" && ref.length <= 512 && !hasLoneSurrogate(ref), `"job.secrets[]" must be well-formed strings of at most 512 characters`);
  },
  cancel: (m) => { str(m, "jobId"); int(m, "attempt", 1); need(typeof m.reason === "string", `"reason" must be a string`); },
  heartbeat_ack: (m) => {
    for (const l of arr(m, "leases")) {
      lease(l);
      need(typeof (l as Obj).ok === "boolean", `"leases[].ok" must be a boolean`);
    }
  },
  ack: (m) => { str(m, "jobId"); int(m, "attempt", 1); int(m, "seq", 0); },
  result_ack: (m) => {
    str(m, "jobId"); int(m, "attempt", 1);
    need(typeof m.accepted === "boolean", `"accepted" must be a boolean`);
    // Both reach the outbox and the log: a reason that is not a string once threw out of the
    // socket's message handler (an object whose toString is no function).
    if (m.reason !== undefined) str(m, "reason", 256);
    optInt(m, "expectedSeq", 1);
  },
  error: (m) => wireError(m.error, "error"),
};

function parseWith<M>(frame: unknown, types: readonly string[], validators: Record<string, (m: Obj) => void>): ParseResult<M> {
  try {
    let value = frame;
    if (typeof frame === "string") {
      try {
        value = JSON.parse(frame);
      } catch {
        throw new Malformed("frame is not valid JSON");
      }
    }
    const m = obj(value, "message");
    // Before any field is read: a value nested past this is hostile, and one past 40,000 levels
    // would make Bun's JSON.stringify throw wherever it is written back.
    need(!nestsDeeperThan(m, MAX_MESSAGE_DEPTH), `the message nests deeper than ${MAX_MESSAGE_DEPTH} levels`);
    need(m.v === PROTOCOL_VERSION, `"v" must be ${PROTOCOL_VERSION}`);
    need(typeof m.type === "string", `"type" must be a string`);
    if (!types.includes(m.type)) {
      return { ok: false, kind: "unknown_type", error: { code: "unknown_type", message: `Unknown message type "${m.type.slice(0, 64)}"` } };
    }
    (validators[m.type] as (m: Obj) => void)(m);
    return { ok: true, message: m as M };
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return { ok: false, kind: "malformed", error: { code: "malformed_frame", message: `Malformed frame: ${error.message}` } };
  }
}

/** Parses a frame sent by a runner (used by the controller). Never throws on bad input. */
export function parseRunnerMessage(frame: unknown): ParseResult<RunnerMessage> {
  return parseWith(frame, RUNNER_TYPES, runnerValidators);
}

/** Parses a frame sent by a controller (used by the runner). Never throws on bad input. */
export function parseControllerMessage(frame: unknown): ParseResult<ControllerMessage> {
  return parseWith(frame, CONTROLLER_TYPES, controllerValidators);
}

/** Distributes `Omit` over a union, so `Omit<RunnerMessage, "v">` keeps each member's fields. */
export type WithoutVersion<M> = M extends unknown ? Omit<M, "v"> : never;

export function message<M extends AnyMessage>(body: WithoutVersion<M>): M {
  return { v: PROTOCOL_VERSION, ...body } as unknown as M;
}

// ---- paths (shared by both ends so they cannot drift) ----

export const EDGE_PATHS = {
  sessions: "/edge/v1/sessions",
  check: "/edge/v1/check",
  resolveSecret: "/edge/v1/secrets/resolve",
  /** PUT the body of artifact `name` of the job attempt the runner holds; answered {v, name, size, sha256}. */
  artifact: (jobId: string, attempt: number, name: string) => `/edge/v1/artifacts/${encodeURIComponent(jobId)}/${attempt}/${encodeURIComponent(name)}`,
  /** POST {v, runnerId, keys: RSA JWK[]}: the runner's encryption keys, current first. */
  runnerKeys: "/edge/v1/keys",
  session: (id: string) => `/edge/v1/sessions/${encodeURIComponent(id)}`,
  websocket: (id: string) => `/edge/v1/sessions/${encodeURIComponent(id)}/ws`,
  send: (id: string) => `/edge/v1/sessions/${encodeURIComponent(id)}/send`,
  receive: (id: string) => `/edge/v1/sessions/${encodeURIComponent(id)}/receive`,
} as const;
