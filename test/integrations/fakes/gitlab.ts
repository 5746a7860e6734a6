// A fake of the GitLab REST API v4 parts the gitlab-pipeline plugin uses, true to the documented
// paths, bodies and errors (docs.gitlab.com/api): trigger a pipeline with a trigger token (form
// body, 201; a wrong token is a 404), create a pipeline with a PRIVATE-TOKEN (JSON, 201), read a
// pipeline, its jobs and its variables, list pipelines, cancel (200), "401 Unauthorized", and
// rate limiting (429 with Retry-After and RateLimit-* headers). Variables (`variables[KEY]`) and
// pipeline inputs (`inputs[KEY]`, GitLab 17.11+) are kept apart; a variable key other than
// letters, digits and "_" is refused (400), and so is an input the project's `spec:inputs` does
// not declare (`declaredInputs`; 400, wording approximated: GitLab fails the pipeline creation).

import { FakeServer, type FakeRequest, type FakeReply } from "../../fakes/http-fake.ts";

export interface FakePipeline {
  id: number;
  projectId: string;
  ref: string;
  variables: Record<string, string>;
  inputs: Record<string, string>;
  source: "trigger" | "api";
  polls: number;
  cancelled: boolean;
}

export class FakeGitlab extends FakeServer {
  readonly triggerToken = "glptt-fake-trigger-token-0123456789";
  readonly accessToken = "glpat-fake-access-token-0123456789";
  readonly pipelines: FakePipeline[] = [];
  pollsToComplete = 2;
  finalStatus = "success";
  /** Jobs of every pipeline besides compile and release ("shard-N", succeeded): lists past one page of 100. */
  extraJobs = 0;
  /** The stage of the pipeline's first job (compile). */
  firstStage = "build";
  /** The `spec:inputs` the project's .gitlab-ci.yml declares; an input not among them is refused. */
  declaredInputs = new Set<string>();
  #next = 500;

  constructor() {
    super();
    const project = "/api/v4/projects/([^/]+)";
    this.route("POST", new RegExp(`^${project}/trigger/pipeline$`), (req, [id]) => {
      const form = req.form();
      if (form.get("token") !== this.triggerToken) return { status: 404, body: { message: "404 Not Found" } };
      const ref = form.get("ref");
      if (ref === null) return { status: 400, body: { error: "ref is missing" } };
      const variables = Object.create(null) as Record<string, string>;
      const inputs = Object.create(null) as Record<string, string>;
      for (const [key, value] of form) {
        const m = /^(variables|inputs)\[(.+)\]$/.exec(key);
        if (m !== null) (m[1] === "variables" ? variables : inputs)[m[2] as string] = value;
      }
      return this.#create(id as string, ref, variables, inputs, "trigger");
    });
    this.route("POST", new RegExp(`^${project}/pipeline$`), (req, [id]) => this.#auth(req, () => {
      const body = req.json() as { ref?: string; variables?: Array<{ key: string; value: string }>; inputs?: Record<string, string> };
      if (typeof body.ref !== "string") return { status: 400, body: { message: { base: ["Reference not found"] } } };
      return this.#create(id as string, body.ref, Object.fromEntries((body.variables ?? []).map((v) => [v.key, v.value])), body.inputs ?? {}, "api");
    }));
    this.route("GET", new RegExp(`^${project}/pipelines$`), (req, [id]) => this.#auth(req, () => ({ status: 200, body: this.pipelines.filter((p) => p.projectId === id && p.ref === (req.query.get("ref") ?? p.ref)).reverse().map((p) => this.#json(p)) })));
    this.route("GET", new RegExp(`^${project}/pipelines/(\\d+)$`), (req, [id, pid]) => this.#auth(req, () => {
      const p = this.#find(id as string, pid as string);
      if (p === undefined) return { status: 404, body: { message: "404 Not found" } };
      p.polls++;
      return { status: 200, body: this.#json(p) };
    }));
    this.route("GET", new RegExp(`^${project}/pipelines/(\\d+)/variables$`), (req, [id, pid]) => this.#auth(req, () => {
      const p = this.#find(id as string, pid as string);
      return p === undefined ? { status: 404, body: { message: "404 Not found" } } : { status: 200, body: Object.entries(p.variables).map(([key, value]) => ({ key, value, variable_type: "env_var" })) };
    }));
    this.route("GET", new RegExp(`^${project}/pipelines/(\\d+)/jobs$`), (req, [id, pid]) => this.#auth(req, () => {
      const p = this.#find(id as string, pid as string);
      if (p === undefined) return { status: 404, body: { message: "404 Not found" } };
      const status = this.#status(p);
      const job = (n: number, stage: string, name: string, doneAt: number) => ({ id: p.id * 10 + n, name, stage, status: FINAL.has(status) ? (n === 2 ? status : "success") : p.polls >= doneAt ? "success" : p.polls >= doneAt - 1 ? "running" : "pending" });
      const extra = Array.from({ length: this.extraJobs }, (_, i) => ({ id: p.id * 10_000 + 100 + i, name: `shard-${i + 1}`, stage: "test", status: "success" }));
      const all = [job(1, this.firstStage, "compile", 1), job(2, "deploy", "release", this.pollsToComplete), ...extra];
      // Offset pagination as GitLab documents it: X-Page, X-Per-Page, X-Next-Page (empty on the last), X-Total.
      const perPage = Math.min(Number(req.query.get("per_page") ?? 20), 100);
      const page = Number(req.query.get("page") ?? 1);
      const next = page * perPage < all.length ? String(page + 1) : "";
      return { status: 200, headers: { "x-page": String(page), "x-per-page": String(perPage), "x-next-page": next, "x-total": String(all.length) }, body: all.slice((page - 1) * perPage, page * perPage) };
    }));
    this.route("POST", new RegExp(`^${project}/pipelines/(\\d+)/cancel$`), (req, [id, pid]) => this.#auth(req, () => {
      const p = this.#find(id as string, pid as string);
      if (p === undefined) return { status: 404, body: { message: "404 Not found" } };
      p.cancelled = true;
      return { status: 200, body: this.#json(p) };
    }));
  }

  rateLimit(times: number): void {
    this.fault({ times, reply: () => ({ status: 429, headers: { "retry-after": "1", "ratelimit-limit": "600", "ratelimit-remaining": "0", "ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 1) }, body: "Retry later\n" }) });
  }

  #create(projectId: string, ref: string, variables: Record<string, string>, inputs: Record<string, string>, source: "trigger" | "api"): FakeReply {
    if (ref !== "main") return { status: 400, body: { message: { base: ["Reference not found"] } } };
    const badKey = Object.keys(variables).find((k) => !/^[A-Za-z0-9_]+$/.test(k));
    if (badKey !== undefined) return { status: 400, body: { message: { "variables.key": ["can contain only letters, digits and '_'."] } } };
    const unknown = Object.keys(inputs).filter((k) => !this.declaredInputs.has(k));
    if (unknown.length > 0) return { status: 400, body: { message: { base: [`unknown input arguments: ${unknown.join(", ")}`] } } };
    const p: FakePipeline = { id: this.#next++, projectId, ref, variables, inputs, source, polls: 0, cancelled: false };
    this.pipelines.push(p);
    return { status: 201, body: this.#json(p) };
  }

  #find(projectId: string, id: string): FakePipeline | undefined {
    return this.pipelines.find((p) => p.projectId === projectId && p.id === Number(id));
  }

  #status(p: FakePipeline): string {
    if (p.cancelled) return "canceled";
    if (p.polls >= this.pollsToComplete) return this.finalStatus;
    return p.polls === 0 ? "created" : "running";
  }

  #json(p: FakePipeline): Record<string, unknown> {
    return { id: p.id, iid: p.id - 400, project_id: 42, status: this.#status(p), source: p.source, ref: p.ref, sha: "a91957a858320c0e17f3a0eca7cfacbff50ea29a", web_url: `https://gitlab.test/acme/app/-/pipelines/${p.id}` };
  }

  #auth(req: FakeRequest, ok: () => FakeReply): FakeReply {
    return req.headers["private-token"] === this.accessToken ? ok() : { status: 401, body: { message: "401 Unauthorized" } };
  }
}

const FINAL = new Set(["success", "failed", "canceled", "skipped"]);
