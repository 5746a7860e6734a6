// A faithful fake of meshStack's building block run API (docs: ../shared/design/meshstack-protocol.md):
// API-key and basic login, claim (200/404/409), register source, PATCH status with runAborted,
// plan artifacts, every header (fake-meshstack-headers.ts: 406/415) and every body
// (fake-meshstack-bodies.ts: 400) checked on every call, token expiry, and injectable faults
// (5xx outages, slow answers, claims refused, a run gone, a registration, an output or a final
// status refused). It records what each run received, in order, for assertions.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { runDocument } from "./fake-run-document.ts";
import { checkHeaders, RUN_MEDIA_TYPE, RUNNER_MEDIA_TYPE, type HeaderExpectation } from "./fake-meshstack-headers.ts";
import { checkClaimBody, checkLoginBody, checkRegisterBody, checkUpdateBody, type BodyVerdict } from "./fake-meshstack-bodies.ts";

export { RUN_MEDIA_TYPE, RUNNER_MEDIA_TYPE };
const RUN_BASE = "/api/meshobjects/meshbuildingblockruns";

export type ImplementationType = "MANUAL" | "TERRAFORM" | "GITHUB_WORKFLOW" | "GITLAB_CICD" | "AZURE_DEVOPS";
export type Behavior = "APPLY" | "DETECT" | "DESTROY";
export type RunStatus = "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "ABORTED";

export interface FakeInput {
  key: string;
  value: unknown;
  type: string;
  isSensitive?: boolean;
  isEnvironment?: boolean;
}

export interface RunSpec {
  type: ImplementationType;
  behavior?: Behavior;
  /** Inputs in clear; sensitive STRING/CODE/FILE ones are encrypted to the fake's public key. */
  inputs?: FakeInput[];
  /** Implementation fields besides `type`; secrets named in `encryptFields` are encrypted. */
  implementation?: Record<string, unknown>;
  encryptFields?: string[];
  planArtifact?: Buffer;
  workspace?: string;
  /** Send this value as is instead of encrypting (a value encrypted to another key, garbage…). */
  rawInputs?: FakeInput[];
}

export interface StepRecord {
  id: string;
  displayName?: string;
  status?: string;
  userMessage?: string;
  systemMessage?: string;
  outputs?: Record<string, { value: unknown; type: string; isSensitive: boolean }>;
}

export interface FakeRun {
  uuid: string;
  spec: RunSpec;
  runToken: string;
  status: RunStatus;
  claimedAt?: number;
  registeredAt?: number;
  source?: Record<string, unknown>;
  steps: Map<string, StepRecord>;
  /** Every accepted PATCH body, in arrival order. */
  updates: Array<{ at: number; body: Record<string, unknown> }>;
  /** PATCHes refused with 409 because the run had ended or was aborted. */
  refusedUpdates: number;
  /** Register and PATCH requests that reached the run, answered or refused. */
  calls: number;
  /** Set by gone(): every call about the run answers this (meshStack deleted or forgot it). */
  goneStatus?: 404 | 410;
  /** Set by refuseRegistration(): the register call answers this 4xx. */
  registerRefusal?: number;
  /** Set by refuseFinalStatus(): the next update with a final run status answers this, once. */
  finalRefusal?: { status: number; message: (body: Record<string, unknown>) => string };
  finishedAt?: number;
  summary?: string;
  artifact?: string;
  changesDetected?: boolean;
}

export interface ClaimRecord {
  at: number;
  status: number;
  /** Runs claimed and not yet ended when this claim arrived. */
  openRuns: number;
  /** Logins the fake had answered when this claim arrived (a claim after a fresh login has a higher count). */
  logins: number;
  /** What `claimProbe` said when the claim arrived (in-process tests: the runner's running count). */
  probe?: number;
}

export interface FakeMeshstackOptions {
  runnerUuid?: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  /** `expires_in` of login answers, in seconds. */
  tokenTtlSeconds?: number;
  /** The runner's public key (PEM) that inputs are encrypted to. */
  publicKeyPem: string;
}

export class FakeMeshstack {
  readonly runnerUuid: string;
  readonly runs = new Map<string, FakeRun>();
  readonly queue: string[] = [];
  readonly claims: ClaimRecord[] = [];
  /** Header or body problems found in requests; a test expects this empty. */
  readonly violations: string[] = [];
  /** Requests answered 400, 406 or 415: by the checks (their problems are in `violations`) or for an output over maxOutputBytes. */
  readonly refusals: Array<{ method: string; path: string; status: number }> = [];
  /** An output whose value is longer than this (JSON) is refused with 400, as meshStack refuses one too large. */
  maxOutputBytes: number | undefined;
  logins = 0;
  artifactDownloads = 0;
  /** Requests answered 503 because of an outage. */
  outageAnswers = 0;
  /** While set, every call answers 503 (a meshStack outage). */
  outage = false;
  /** While set, status updates (PATCH) answer 503 and every other call works: a run's updates wait in the runner's outbox. */
  updateOutage = false;
  /** Delay before each answer, in ms. */
  slowMs = 0;
  /** Delay before answering a claim (after recording it), in ms: an answer the runner may not wait for. */
  slowClaimMs = 0;
  /** Called as each claim arrives; its value is recorded with the claim. */
  claimProbe: (() => number) | undefined;
  /** The next N claims answer 409 (meshStack's race). */
  conflictClaims = 0;
  /**
   * While set, every claim answers this (a 403 for an API key without the permission, a 400 with
   * meshStack's message); a message made from the claim's API token echoes it, as an error body may.
   */
  claimRefusal: { status: number; message: string | ((apiToken: string) => string) } | undefined;
  /** While set, login answers carry a `refresh_token` too (not in the protocol doc; some OAuth servers add one). */
  refreshTokens = false;
  /** Every API token (and refresh token) the fake issued, in order. */
  readonly issuedTokens: string[] = [];
  tokenTtlSeconds: number;
  /** What the runner's registration shows as `spec.publicKey` (a certificate); default the public key. */
  registeredPublicKey: string | undefined;
  readonly #o: FakeMeshstackOptions;
  readonly #tokens = new Map<string, number>();
  #server: Server | undefined;
  url = "";

  constructor(options: FakeMeshstackOptions) {
    this.#o = options;
    this.runnerUuid = options.runnerUuid ?? randomUUID();
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  }

  async start(port = 0): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(port, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** Queues a run for the runner; returns its uuid. */
  addRun(spec: RunSpec): string {
    const uuid = randomUUID();
    this.runs.set(uuid, { uuid, spec, runToken: fakeJwt(uuid), status: "IN_PROGRESS", steps: new Map(), updates: [], refusedUpdates: 0, calls: 0 });
    this.queue.push(uuid);
    return uuid;
  }

  run(uuid: string): FakeRun {
    const run = this.runs.get(uuid);
    if (run === undefined) throw new Error(`No run ${uuid}`);
    return run;
  }

  /** meshStack's user pressed "abort": the next PATCH answers runAborted. */
  abort(uuid: string): void {
    this.run(uuid).status = "ABORTED";
  }

  /** meshStack deleted the run (410) or no longer knows it (404): every call about it answers so. */
  gone(uuid: string, status: 404 | 410 = 410): void {
    this.run(uuid).goneStatus = status;
  }

  /** The run's source registration is refused with `status` (a 4xx retrying cannot change). */
  refuseRegistration(uuid: string, status = 422): void {
    this.run(uuid).registerRefusal = status;
  }

  /**
   * The run's next final status (an update with SUCCEEDED, FAILED or ABORTED) is refused, once,
   * with `status` and `message` (text, or made from the refused body): as meshStack refuses one
   * it does not take, and its message may quote what it was sent.
   */
  refuseFinalStatus(uuid: string, message: string | ((body: Record<string, unknown>) => string), status = 400): void {
    this.run(uuid).finalRefusal = { status, message: typeof message === "string" ? () => message : message };
  }

  /** Makes every issued API token expire now (the runner must log in again on the 401). */
  expireTokens(): void {
    for (const token of this.#tokens.keys()) this.#tokens.set(token, 0);
  }

  openRuns(): number {
    return [...this.runs.values()].filter((r) => r.claimedAt !== undefined && r.status === "IN_PROGRESS").length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    if (this.slowMs > 0) await new Promise((r) => setTimeout(r, this.slowMs));
    const send = (status: number, payload?: unknown, type = RUN_MEDIA_TYPE) => {
      if (res.destroyed) return;
      res.writeHead(status, payload === undefined ? {} : { "Content-Type": type });
      res.end(payload === undefined ? undefined : Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
    };
    if (this.outage || (this.updateOutage && req.method === "PATCH")) {
      this.outageAnswers++;
      return send(503, { message: "meshStack is down for maintenance" }, "application/json");
    }
    const url = new URL(req.url ?? "/", this.url);
    try {
      const refuse = (status: number, problems: string[]) => {
        this.violations.push(`${req.method} ${url.pathname}: ${problems.join("; ")}`);
        this.refusals.push({ method: req.method ?? "", path: url.pathname, status });
        send(status, { message: problems.join("; ") }, "application/json");
      };
      /** Header and body checks: false when the call was answered 400/406/415. */
      const checked = (expect: HeaderExpectation, verdict?: BodyVerdict): boolean => {
        const headers = checkHeaders(req.method ?? "", req.headers, expect);
        if (headers.status !== undefined) {
          refuse(headers.status, headers.problems);
          return false;
        }
        if (headers.problems.length > 0) this.violations.push(`${req.method} ${url.pathname}: ${headers.problems.join("; ")}`);
        if (verdict === undefined) return true;
        if (verdict.unknown.length > 0) this.violations.push(`${req.method} ${url.pathname}: ${verdict.unknown.join("; ")}`);
        if (verdict.refused.length > 0) {
          refuse(400, verdict.refused);
          return false;
        }
        return true;
      };
      if (req.method === "POST" && url.pathname === "/api/login") {
        if (!checked({ accept: "application/json", contentType: "application/json" }, checkLoginBody(body))) return;
        return this.#login(body, send);
      }
      const runnerPath = /^\/api\/meshobjects\/meshbuildingblockrunners\/([^/]+)$/.exec(url.pathname);
      if (runnerPath !== null && req.method === "GET") {
        if (!checked({ accept: RUNNER_MEDIA_TYPE })) return;
        if (!this.#apiAuthorized(req)) return send(401, { message: "Unauthorized" }, "application/json");
        if (runnerPath[1] !== this.runnerUuid) return send(404, { message: "No such runner" }, "application/json");
        return send(200, { apiVersion: "v1-preview", kind: "meshBuildingBlockRunner", metadata: { uuid: this.runnerUuid, ownedByWorkspace: "platform-ws" }, spec: { displayName: "edge-runner", publicKey: this.registeredPublicKey ?? this.#o.publicKeyPem, implementationType: "ALL" } }, RUNNER_MEDIA_TYPE);
      }
      if (req.method === "POST" && url.pathname === `${RUN_BASE}/create`) {
        if (!checked({ accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }, checkClaimBody(body))) return;
        return this.#claim(req, url, send);
      }
      const m = /^\/api\/meshobjects\/meshbuildingblockruns\/([^/]+)\/(status\/source(?:\/([^/]+))?|artifact)$/.exec(url.pathname);
      const run = m === null ? undefined : this.runs.get(m[1] as string);
      if (m === null || run === undefined) return send(404, { message: "not found" }, "application/json");
      if (m[2] === "artifact" && req.method === "GET") {
        if (!checked({ accept: "application/octet-stream" })) return;
        if (!this.#runToken(req, run, url, send)) return;
        if (run.goneStatus !== undefined) return send(run.goneStatus, { message: "run not found" }, "application/json");
        if (run.spec.planArtifact === undefined) return send(404, { message: "no plan" }, "application/json");
        this.artifactDownloads++;
        return send(200, run.spec.planArtifact, "application/octet-stream");
      }
      const register = req.method === "POST" && m[3] === undefined;
      const patch = req.method === "PATCH" && m[3] !== undefined;
      if (!register && !patch) return send(405, { message: "method not allowed" }, "application/json");
      run.calls++;
      if (!checked({ accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }, register ? checkRegisterBody(body) : checkUpdateBody(body))) return;
      if (!this.#runToken(req, run, url, send)) return;
      if (run.goneStatus !== undefined) return send(run.goneStatus, { message: run.goneStatus === 410 ? "The building block run was deleted" : "run not found" }, "application/json");
      if (register) return this.#register(run, body, send);
      return this.#patch(run, m[3] as string, body, send);
    } catch (error) {
      return send(400, { message: (error as Error).message }, "application/json");
    }
  }

  /** Calls about a run carry its run token; false when answered 403. */
  #runToken(req: IncomingMessage, run: FakeRun, url: URL, send: (s: number, p?: unknown, t?: string) => void): boolean {
    if (req.headers.authorization === `Bearer ${run.runToken}`) return true;
    this.violations.push(`${req.method} ${url.pathname} without the run token`);
    send(403, { message: "forbidden" }, "application/json");
    return false;
  }

  #login(body: string, send: (s: number, p?: unknown, t?: string) => void): void {
    let ok = false;
    try {
      const parsed = JSON.parse(body) as { clientId?: unknown; clientSecret?: unknown };
      ok = parsed.clientId === this.#o.clientId && parsed.clientSecret === this.#o.clientSecret && this.#o.clientId !== undefined;
    } catch {
      ok = false;
    }
    if (!ok) return send(401, { message: "Bad credentials" }, "application/json");
    this.logins++;
    const token = `api-${randomUUID()}`;
    this.#tokens.set(token, Date.now() + this.tokenTtlSeconds * 1000);
    this.issuedTokens.push(token);
    const refresh = this.refreshTokens ? `refresh-${randomUUID()}` : undefined;
    if (refresh !== undefined) this.issuedTokens.push(refresh);
    send(200, { access_token: token, token_type: "bearer", expires_in: this.tokenTtlSeconds, ...(refresh === undefined ? {} : { refresh_token: refresh }) }, "application/json");
  }

  #apiAuthorized(req: IncomingMessage): boolean {
    const auth = req.headers.authorization ?? "";
    if (auth.startsWith("Bearer ")) {
      const expires = this.#tokens.get(auth.slice(7));
      return expires !== undefined && expires > Date.now();
    }
    if (auth.startsWith("Basic ") && this.#o.username !== undefined) {
      return Buffer.from(auth.slice(6), "base64").toString("utf8") === `${this.#o.username}:${this.#o.password ?? ""}`;
    }
    return false;
  }

  async #claim(req: IncomingMessage, url: URL, send: (s: number, p?: unknown, t?: string) => void): Promise<void> {
    const probe = this.claimProbe?.();
    const record = (status: number) => this.claims.push({ at: preciseNow(), status, openRuns: this.openRuns(), logins: this.logins, ...(probe === undefined ? {} : { probe }) });
    if (!this.#apiAuthorized(req)) {
      record(401);
      return send(401, { message: "Unauthorized" }, "application/json");
    }
    if (url.searchParams.get("forRunnerUuid") !== this.runnerUuid) {
      record(404);
      return send(404, { message: "Unknown runner" }, "application/json");
    }
    if (this.claimRefusal !== undefined) {
      record(this.claimRefusal.status);
      const { status, message } = this.claimRefusal;
      return send(status, { message: typeof message === "string" ? message : message((req.headers.authorization ?? "").replace(/^Bearer /, "")) }, "application/json");
    }
    if (this.conflictClaims > 0) {
      this.conflictClaims--;
      record(409);
      return send(409, { message: "Conflict" }, "application/json");
    }
    const uuid = this.queue.shift();
    if (uuid === undefined) {
      record(404);
      if (this.slowClaimMs > 0) await new Promise((r) => setTimeout(r, this.slowClaimMs));
      return send(404, { message: "No run" }, "application/json");
    }
    record(200);
    const run = this.run(uuid);
    run.claimedAt = preciseNow();
    if (this.slowClaimMs > 0) await new Promise((r) => setTimeout(r, this.slowClaimMs));
    send(200, runDocument(run, { url: this.url, publicKeyPem: this.#o.publicKeyPem }));
  }

  #register(run: FakeRun, body: string, send: (s: number, p?: unknown, t?: string) => void): void {
    if (run.registeredAt !== undefined) return send(409, { message: "Source already registered" }, "application/json");
    if (run.registerRefusal !== undefined) return send(run.registerRefusal, { message: "The source cannot be registered for this run" }, "application/json");
    const parsed = JSON.parse(body) as { source?: { id?: unknown }; steps?: unknown };
    if (parsed.source?.id !== this.runnerUuid) this.violations.push(`register of ${run.uuid} with source ${String(parsed.source?.id)}`);
    run.registeredAt = preciseNow();
    run.source = parsed.source as Record<string, unknown>;
    for (const step of (parsed.steps ?? []) as StepRecord[]) run.steps.set(step.id, { ...step });
    send(200, {});
  }

  #patch(run: FakeRun, sourceId: string, body: string, send: (s: number, p?: unknown, t?: string) => void): void {
    if (sourceId !== this.runnerUuid) this.violations.push(`PATCH of ${run.uuid} for source ${sourceId}`);
    if (run.registeredAt === undefined) this.violations.push(`PATCH of ${run.uuid} before register`);
    if (run.status === "ABORTED") {
      run.refusedUpdates++;
      return send(409, { runAborted: true });
    }
    if (run.status !== "IN_PROGRESS") {
      run.refusedUpdates++;
      return send(409, { message: `Run is ${run.status}` }, "application/json");
    }
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const tooLarge = this.#tooLargeOutput(parsed);
    if (tooLarge !== undefined) {
      this.refusals.push({ method: "PATCH", path: `${RUN_BASE}/${run.uuid}/status/source/${sourceId}`, status: 400 });
      return send(400, { message: `Output "${tooLarge}" is too large` }, "application/json");
    }
    const refusal = run.finalRefusal;
    if (refusal !== undefined && (parsed.status === "SUCCEEDED" || parsed.status === "FAILED" || parsed.status === "ABORTED")) {
      delete run.finalRefusal;
      this.refusals.push({ method: "PATCH", path: `${RUN_BASE}/${run.uuid}/status/source/${sourceId}`, status: refusal.status });
      return send(refusal.status, { message: refusal.message(parsed) }, "application/json");
    }
    run.updates.push({ at: preciseNow(), body: parsed });
    for (const step of (parsed.steps ?? []) as StepRecord[]) {
      const old = run.steps.get(step.id) ?? { id: step.id };
      run.steps.set(step.id, { ...old, ...step });
    }
    if (typeof parsed.summary === "string") run.summary = parsed.summary;
    if (typeof parsed.artifact === "string") run.artifact = parsed.artifact;
    if (typeof parsed.changesDetected === "boolean") run.changesDetected = parsed.changesDetected;
    if (parsed.status === "SUCCEEDED" || parsed.status === "FAILED" || parsed.status === "ABORTED") {
      run.status = parsed.status;
      run.finishedAt = preciseNow();
    }
    send(200, { runAborted: false });
  }

  /** The key of an output over maxOutputBytes, if any. */
  #tooLargeOutput(body: Record<string, unknown>): string | undefined {
    const max = this.maxOutputBytes;
    if (max === undefined) return undefined;
    for (const step of (body.steps ?? []) as StepRecord[]) {
      for (const [key, output] of Object.entries(step.outputs ?? {})) if (JSON.stringify(output.value ?? null).length > max) return key;
    }
    return undefined;
  }
}

/**
 * Epoch ms with sub-millisecond precision (the bench measures claim-to-first-status with it).
 * Every time the fake records comes from this one clock: it drifts from Date.now() in a long
 * test process, so mixing the two made a 2 s run look 45 s long.
 */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A JWT-shaped run token (meshStack's is a signed JWT; the runner treats it as opaque). */
function fakeJwt(runUuid: string): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part({ sub: runUuid, scope: "run" })}.${Buffer.from(randomUUID()).toString("base64url")}`;
}
