// A fake of the GitHub REST API parts the github-workflow plugin uses, true to the documented
// paths, bodies and errors (docs.github.com/rest): app installation lookup and installation
// access tokens (the app JWT is verified: RS256, iss, iat/exp window), workflow_dispatch (204, or
// 200 with the run's id when asked with return_run_details; 422 for an unknown ref or unexpected
// input, and for return_run_details on a server without it), workflow runs by workflow with filters
// (`created` in the documented date syntax only: a timestamp with milliseconds matches nothing), a run,
// its jobs, cancel (202, 409 when already completed), 401 "Bad credentials" (also for an
// installation token past its `expires_at`, as GitHub refuses an expired one), and rate limiting
// with x-ratelimit-* headers or Retry-After. A dispatch's inputs are checked: at most 25
// properties (GitHub's REST reference), 65,535 characters in all, names and values (the limit
// meshcloud's runner documents), each name one the workflow declares (`workflowInputs`); over a
// limit it answers 422 (wording approximated).

import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { jwtVerify } from "jose";
import { FakeServer, type FakeRequest, type FakeReply } from "../../fakes/http-fake.ts";

export interface FakeRun {
  id: number;
  workflow: string;
  inputs: Record<string, string>;
  ref: string;
  polls: number;
  cancelled: boolean;
  createdAt: string;
  /** List calls left that do not show it yet. */
  unlisted?: number;
}

/**
 * The `created` qualifier as GitHub's search syntax documents it: `>=`, `>`, `<=`, `<` or a range
 * `A..B`, each date YYYY-MM-DD with an optional THH:MM:SS and UTC offset or Z. A value outside that
 * syntax (fractional seconds among them) matches no run, as some servers were seen to do.
 */
function createdFilter(value: string | null): (createdAt: string) => boolean {
  if (value === null) return () => true;
  const date = "(\\d{4}-\\d{2}-\\d{2}(?:T\\d{2}:\\d{2}:\\d{2}(?:Z|[+-]\\d{2}:\\d{2})?)?)";
  const at = (text: string) => Date.parse(/T/.test(text) && !/(Z|[+-]\d{2}:\d{2})$/.test(text) ? `${text}Z` : text);
  const bound = new RegExp(`^(>=|>|<=|<)${date}$`).exec(value);
  if (bound !== null) {
    const limit = at(bound[2] as string);
    const op = bound[1];
    return (createdAt) => {
      const t = Date.parse(createdAt);
      return op === ">=" ? t >= limit : op === ">" ? t > limit : op === "<=" ? t <= limit : t < limit;
    };
  }
  const range = new RegExp(`^${date}\\.\\.${date}$`).exec(value);
  if (range !== null) return (createdAt) => Date.parse(createdAt) >= at(range[1] as string) && Date.parse(createdAt) <= at(range[2] as string);
  return () => false;
}

const BAD_CREDENTIALS = { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" } };

export class FakeGithub extends FakeServer {
  readonly appId = "4242";
  readonly installationId = 777;
  readonly privateKeyPem: string;
  readonly #publicKey: KeyObject;
  readonly runs: FakeRun[] = [];
  readonly tokens = new Set<string>(["ghp_fake_personal_token_value"]);
  /** Polls of GET /runs/:id before the run completes, and its conclusion. */
  pollsToComplete = 2;
  conclusion = "success";
  /** False: an older GitHub Enterprise Server that refuses return_run_details (422) and answers 204. */
  supportsRunDetails = true;
  /** Runs of the same workflow someone else dispatches right after each dispatch (newer than ours). */
  othersAfterEachDispatch = 0;
  /** List calls that do not show a just-dispatched run yet (GitHub's list lags the dispatch by seconds). */
  listLag = 0;
  /** Jobs of every run besides build and deploy ("shard-N", succeeded): lists past one page of 100. */
  extraJobs = 0;
  /** How far out the `expires_at` of a new installation token is (GitHub: one hour). */
  tokenExpiresInMs = 3_600_000;
  readonly workflowInputs = new Set(["edge_run_id", "environment", "edge_callback_url", "edge_callback_token", "buildingBlockRun"]);
  #nextRun = 1000;
  /** When each installation token stops being accepted (epoch ms). */
  readonly #expiry = new Map<string, number>();

  constructor() {
    super();
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    // As GitHub hands it out: PKCS#1.
    this.privateKeyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    this.#publicKey = publicKey;
    const repo = "/repos/([^/]+)/([^/]+)";
    this.route("GET", new RegExp(`^${repo}/installation$`), (req) => this.#app(req, () => ({ status: 200, body: { id: this.installationId, app_id: Number(this.appId), account: { login: "acme" } } })));
    this.route("POST", /^\/app\/installations\/(\d+)\/access_tokens$/, (req, [id]) => this.#app(req, () => {
      if (Number(id) !== this.installationId) return { status: 404, body: { message: "Not Found" } };
      const token = `ghs_fake_${Math.random().toString(36).slice(2)}`;
      this.tokens.add(token);
      const expiresAt = Date.now() + this.tokenExpiresInMs;
      this.#expiry.set(token, expiresAt);
      return { status: 201, body: { token, expires_at: new Date(expiresAt).toISOString(), permissions: { actions: "write" } } };
    }));
    this.route("POST", new RegExp(`^${repo}/actions/workflows/([^/]+)/dispatches$`), (req, [, , workflow]) => this.#token(req, () => {
      const body = req.json() as { ref?: string; inputs?: Record<string, string>; return_run_details?: boolean };
      if (body.return_run_details !== undefined && !this.supportsRunDetails) return { status: 422, body: { message: "Invalid request.\n\n\"return_run_details\" is not a permitted key.", status: "422" } };
      if (body.ref !== "main") return { status: 422, body: { message: `No ref found for: ${body.ref}`, status: "422" } };
      const given = Object.entries(body.inputs ?? {});
      if (given.length > 25) return { status: 422, body: { message: `Invalid request.\n\nFor 'properties/inputs', {...} has too many properties (${given.length} > 25).`, status: "422" } };
      if (given.reduce((n, [k, v]) => n + k.length + String(v).length, 0) > 65_535) return { status: 422, body: { message: "inputs are too large.", status: "422" } };
      const unexpected = Object.keys(body.inputs ?? {}).filter((k) => !this.workflowInputs.has(k));
      if (unexpected.length > 0) return { status: 422, body: { message: `Unexpected inputs provided: ${JSON.stringify(unexpected)}`, status: "422" } };
      const run: FakeRun = { id: this.#nextRun++, workflow: workflow as string, inputs: body.inputs ?? {}, ref: body.ref, polls: 0, cancelled: false, createdAt: new Date().toISOString(), unlisted: this.listLag };
      this.runs.push(run);
      for (let i = 0; i < this.othersAfterEachDispatch; i++) this.runs.push({ ...run, id: this.#nextRun++, inputs: { edge_run_id: `someone-else-${i}` } });
      if (body.return_run_details !== true) return { status: 204 };
      const [, , owner, repoName] = req.path.split("/");
      return { status: 200, body: { workflow_run_id: run.id, run_url: `${this.url}/repos/${owner}/${repoName}/actions/runs/${run.id}`, html_url: `https://github.test/acme/app/actions/runs/${run.id}` } };
    }));
    this.route("GET", new RegExp(`^${repo}/actions/workflows/([^/]+)/runs$`), (req, [, , workflow]) => this.#token(req, () => {
      const created = createdFilter(req.query.get("created"));
      const runs = this.runs.filter((r) => r.workflow === workflow && (req.query.get("branch") ?? r.ref) === r.ref && (r.unlisted ?? 0) <= 0 && created(r.createdAt)).reverse();
      for (const r of this.runs) if ((r.unlisted ?? 0) > 0) r.unlisted = (r.unlisted ?? 0) - 1;
      return { status: 200, body: { total_count: runs.length, workflow_runs: runs.map((r) => this.#runJson(r)) } };
    }));
    this.route("GET", new RegExp(`^${repo}/actions/runs/(\\d+)$`), (req, [, , id]) => this.#token(req, () => {
      const run = this.runs.find((r) => r.id === Number(id));
      if (run === undefined) return { status: 404, body: { message: "Not Found" } };
      run.polls++;
      return { status: 200, body: this.#runJson(run) };
    }));
    this.route("GET", new RegExp(`^${repo}/actions/runs/(\\d+)/jobs$`), (req, [, , id]) => this.#token(req, () => {
      const run = this.runs.find((r) => r.id === Number(id));
      if (run === undefined) return { status: 404, body: { message: "Not Found" } };
      const state = this.#state(run);
      const job = (jid: number, name: string, doneAt: number) => {
        const completed = state.status === "completed" || run.polls >= doneAt;
        return { id: run.id * 10 + jid, run_id: run.id, name, status: completed ? "completed" : run.polls >= doneAt - 1 ? "in_progress" : "queued", conclusion: completed ? (jid === 2 ? state.conclusion : "success") : null };
      };
      const extra = Array.from({ length: this.extraJobs }, (_, i) => ({ id: run.id * 10_000 + 100 + i, run_id: run.id, name: `shard-${i + 1}`, status: "completed", conclusion: "success" }));
      const all = [job(1, "build", 1), job(2, "deploy", this.pollsToComplete), ...extra];
      // Pages as GitHub hands them out: per_page (at most 100), page, and a Link header.
      const perPage = Math.min(Number(req.query.get("per_page") ?? 30), 100);
      const page = Number(req.query.get("page") ?? 1);
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const link = (p: number) => `<${this.url}${req.path}?per_page=${perPage}&page=${p}>`;
      const links = [...(page < last ? [`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`] : []), ...(page > 1 ? [`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`] : [])];
      return { status: 200, headers: links.length === 0 ? {} : { link: links.join(", ") }, body: { total_count: all.length, jobs: all.slice((page - 1) * perPage, page * perPage) } };
    }));
    this.route("POST", new RegExp(`^${repo}/actions/runs/(\\d+)/cancel$`), (req, [, , id]) => this.#token(req, () => {
      const run = this.runs.find((r) => r.id === Number(id));
      if (run === undefined) return { status: 404, body: { message: "Not Found" } };
      if (this.#state(run).status === "completed") return { status: 409, body: { message: "Cannot cancel a workflow run that is completed." } };
      run.cancelled = true;
      return { status: 202, body: {} };
    }));
  }

  /** The next `times` requests get GitHub's primary rate limit answer (403, remaining 0, reset in 1 s). */
  rateLimit(times: number, kind: "primary" | "secondary" = "primary"): void {
    this.fault({
      times,
      reply: () => kind === "primary"
        ? { status: 403, headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000", "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 1) }, body: { message: "API rate limit exceeded for installation ID 777.", documentation_url: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting" } }
        : { status: 429, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." } },
    });
  }

  #state(run: FakeRun): { status: string; conclusion: string | null } {
    if (run.cancelled) return { status: "completed", conclusion: "cancelled" };
    if (run.polls >= this.pollsToComplete) return { status: "completed", conclusion: this.conclusion };
    return { status: run.polls === 0 ? "queued" : "in_progress", conclusion: null };
  }

  #runJson(run: FakeRun): Record<string, unknown> {
    const state = this.#state(run);
    // The workflow's run-name shows the correlation input, as docs/integrations.md asks.
    const title = run.inputs.edge_run_id !== undefined ? `Deploy ${run.inputs.edge_run_id}` : run.workflow;
    return { id: run.id, name: "Deploy", display_title: title, event: "workflow_dispatch", head_branch: run.ref, status: state.status, conclusion: state.conclusion, html_url: `https://github.test/acme/app/actions/runs/${run.id}`, created_at: run.createdAt };
  }

  async #app(req: FakeRequest, ok: () => FakeReply): Promise<FakeReply> {
    const jwt = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    if (jwt === undefined) return { status: 401, body: { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" } };
    try {
      const { payload, protectedHeader } = await jwtVerify(jwt, this.#publicKey, { algorithms: ["RS256"], issuer: this.appId, clockTolerance: 0 });
      const now = Math.floor(Date.now() / 1000);
      if (protectedHeader.alg !== "RS256" || payload.iat === undefined || payload.exp === undefined) throw new Error("claims");
      if (payload.exp - payload.iat > 600 || payload.iat > now + 5) throw new Error("'Expiration time' claim ('exp') is too far in the future");
    } catch {
      return { status: 401, body: { message: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued", documentation_url: "https://docs.github.com/rest" } };
    }
    return ok();
  }

  #token(req: FakeRequest, ok: () => FakeReply): FakeReply {
    const token = /^(?:Bearer|token) (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const live = token !== undefined && this.tokens.has(token) && (this.#expiry.get(token) ?? Number.POSITIVE_INFINITY) > Date.now();
    return live ? ok() : BAD_CREDENTIALS;
  }
}
