// A fake of the Azure DevOps REST API 7.1 parts the azure-devops-pipeline plugin uses, true to
// the documented paths, bodies and errors (learn.microsoft.com/rest/api/azure/devops): Runs - Run
// Pipeline (POST …/_apis/pipelines/{id}/runs), Runs - Get, Timeline - Get (Stage/Job/Task
// records; 404 until the build has one), Builds - Update Build with status "cancelling", PAT Basic
// auth (401 TF400813, or 203 with a sign-in page), api-version checks (`serverVersion`: a server
// refuses a version newer than its own), and 429 rate limiting.
// A run's body is checked as the service checks it: template parameters must be ones the
// pipeline's YAML declares (`parameters:`, here `declaredParameters`) with text values, and a
// queue-time variable must be marked settable at queue time (`settableVariables`; organizations
// created since 2023 limit queue-time variables by default). Both refusals are 400s, their
// wording approximated.

import { FakeServer, type FakeRequest, type FakeReply } from "../../fakes/http-fake.ts";

export interface FakeAzureRun {
  id: number;
  pipelineId: number;
  body: { resources?: { repositories?: { self?: { refName?: string } } }; templateParameters?: Record<string, string>; variables?: Record<string, { value: string; isSecret?: boolean }> };
  polls: number;
  cancelled: boolean;
}

export class FakeAzureDevops extends FakeServer {
  readonly pat = "azpat-fake-personal-access-token-0123456789";
  readonly runs: FakeAzureRun[] = [];
  pollsToComplete = 2;
  result = "succeeded";
  /** Answer a bad PAT the way some Azure DevOps routes do: 203 and an HTML sign-in page. */
  signInPageForBadPat = false;
  /** The pipeline YAML's `parameters:`. */
  declaredParameters = new Set<string>(["environment"]);
  /** Variables the pipeline marks "Settable at queue time". */
  settableVariables = new Set<string>(["EDGE_CALLBACK_URL", "EDGE_CALLBACK_TOKEN"]);
  /**
   * The newest REST API version the server supports: Azure DevOps Services 7.1, Server 2022 7.0,
   * Server 2020 6.0 (learn.microsoft.com, "REST API versioning"). A newer one is refused with 400
   * VssVersionOutOfRangeException; on 6.0 the Pipelines (Runs) API is only a preview: 6.0-preview.1.
   */
  serverVersion: "7.1" | "7.0" | "6.0" = "7.1";
  #next = 9000;

  constructor() {
    super();
    const project = "/([^/]+)/([^/]+)/_apis";
    this.route("POST", new RegExp(`^${project}/pipelines/(\\d+)/runs$`), (req, [, , id]) => this.#auth(req, () => {
      const pipelineId = Number(id);
      if (pipelineId !== 12) return { status: 404, body: this.#error("TF200016: The following pipeline does not exist: 13.", "PipelineNotFoundException") };
      const body = (req.json() ?? {}) as FakeAzureRun["body"];
      const refused = this.#refusal(body);
      if (refused !== undefined) return refused;
      const run: FakeAzureRun = { id: this.#next++, pipelineId, body, polls: 0, cancelled: false };
      this.runs.push(run);
      return { status: 200, body: this.#runJson(run, req) };
    }));
    this.route("GET", new RegExp(`^${project}/pipelines/(\\d+)/runs/(\\d+)$`), (req, [, , , runId]) => this.#auth(req, () => {
      const run = this.runs.find((r) => r.id === Number(runId));
      if (run === undefined) return { status: 404, body: this.#error(`TF400714: Run ${runId} was not found.`, "RunNotFoundException") };
      run.polls++;
      return { status: 200, body: this.#runJson(run, req) };
    }));
    this.route("GET", new RegExp(`^${project}/build/builds/(\\d+)/timeline$`), (req, [, , runId]) => this.#auth(req, () => {
      const run = this.runs.find((r) => r.id === Number(runId));
      if (run === undefined || run.polls < 1) return { status: 404, body: this.#error(`TF215097: The build ${runId} has no timeline yet.`, "TimelineNotFoundException") };
      const state = this.#state(run);
      const stage = (order: number, name: string, doneAt: number) => {
        const completed = state.state === "completed" || run.polls >= doneAt;
        return { id: `0000000${order}-stage`, parentId: null, type: "Stage", name, identifier: name.toLowerCase(), order, state: completed ? "completed" : run.polls >= doneAt - 1 ? "inProgress" : "pending", result: completed ? (order === 2 ? state.result : "succeeded") : null };
      };
      const records = [stage(1, "Build", 1), stage(2, "Deploy", this.pollsToComplete), { id: "job-1", parentId: "00000001-stage", type: "Job", name: "Job", order: 1, state: "completed", result: "succeeded" }];
      return { status: 200, body: { records, lastChangedBy: "00000002-0000-8888-8000-000000000000", id: `${runId}-timeline`, changeId: run.polls } };
    }));
    this.route("PATCH", new RegExp(`^${project}/build/builds/(\\d+)$`), (req, [, , runId]) => this.#auth(req, () => {
      const run = this.runs.find((r) => r.id === Number(runId));
      if (run === undefined) return { status: 404, body: this.#error(`TF215000: Build ${runId} not found.`, "BuildNotFoundException") };
      if ((req.json() as { status?: string }).status !== "cancelling") return { status: 400, body: this.#error("Only status cancelling is supported here", "ArgumentException") };
      run.cancelled = true;
      return { status: 200, body: { id: run.id, status: "cancelling", buildNumber: `20261130.${run.id}` } };
    }));
  }

  rateLimit(times: number): void {
    this.fault({ times, reply: () => ({ status: 429, headers: { "retry-after": "1", "x-ratelimit-resource": "ATCPU", "x-ratelimit-delay": "1", "x-ratelimit-limit": "200", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 1) }, body: this.#error("TF400733: The request has been throttled.", "RequestThrottledException") }) });
  }

  #state(run: FakeAzureRun): { state: string; result?: string } {
    if (run.cancelled) return run.polls > 0 ? { state: "completed", result: "canceled" } : { state: "canceling" };
    if (run.polls >= this.pollsToComplete) return { state: "completed", result: this.result };
    return { state: "inProgress" };
  }

  #runJson(run: FakeAzureRun, req: FakeRequest): Record<string, unknown> {
    const state = this.#state(run);
    const [, org, project] = req.path.split("/");
    const web = `https://dev.azure.test/${org}/${project}/_build/results?buildId=${run.id}`;
    return {
      _links: { self: { href: `${this.url}/${org}/${project}/_apis/pipelines/${run.pipelineId}/runs/${run.id}` }, web: { href: web } },
      pipeline: { id: run.pipelineId, name: "deploy", folder: "\\" },
      state: state.state, ...(state.result === undefined ? {} : { result: state.result }),
      createdDate: new Date().toISOString(), url: `${this.url}/${org}/${project}/_apis/pipelines/${run.pipelineId}/runs/${run.id}`,
      id: run.id, name: `20261130.${run.id}`, templateParameters: run.body.templateParameters ?? {},
    };
  }

  #refusal(body: FakeAzureRun["body"]): FakeReply | undefined {
    for (const [key, value] of Object.entries(body.templateParameters ?? {})) {
      if (!this.declaredParameters.has(key)) return { status: 400, body: this.#error(`/azure-pipelines.yml: Unexpected parameter '${key}'`, "PipelineValidationException") };
      if (typeof value !== "string") return { status: 400, body: this.#error(`The value of template parameter '${key}' is not a string.`, "PipelineValidationException") };
    }
    const notSettable = Object.keys(body.variables ?? {}).filter((k) => !this.settableVariables.has(k));
    if (notSettable.length > 0) return { status: 400, body: this.#error(`You can't set the following variables (${notSettable.join(", ")}). If you want to be able to set these variables, then edit the pipeline and select Settable at queue time on the variables tab of the pipeline editor.`, "PipelineValidationException") };
    return undefined;
  }

  #error(message: string, typeKey: string): Record<string, unknown> {
    return { $id: "1", innerException: null, message, typeName: `Microsoft.TeamFoundation.${typeKey}, Microsoft.TeamFoundation`, typeKey, errorCode: 0, eventId: 3000 };
  }

  #versionRefusal(req: FakeRequest): FakeReply | undefined {
    const asked = req.query.get("api-version") ?? "";
    const parsed = /^(\d+\.\d+)(-preview(?:\.\d+)?)?$/.exec(asked);
    if (parsed === null) return { status: 400, body: this.#error(`The requested REST API version of ${asked} is not valid.`, "VssInvalidApiVersionException") };
    const version = Number(parsed[1]);
    if (version > Number(this.serverVersion)) return { status: 400, body: this.#error(`The requested REST API version of ${asked} is out of range for this server. The latest REST API version this server supports is ${this.serverVersion}.`, "VssVersionOutOfRangeException") };
    const pipelinesArea = req.path.includes("/_apis/pipelines/");
    if (pipelinesArea && version < 7 && parsed[2] === undefined) return { status: 400, body: this.#error(`The requested version "${asked}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${asked}-preview"`, "VssInvalidPreviewVersionException") };
    return undefined;
  }

  #auth(req: FakeRequest, ok: () => FakeReply): FakeReply {
    const refused = this.#versionRefusal(req);
    if (refused !== undefined) return refused;
    const expected = `Basic ${Buffer.from(`:${this.pat}`).toString("base64")}`;
    if (req.headers.authorization === expected) return ok();
    if (this.signInPageForBadPat) return { status: 203, headers: { "content-type": "text/html; charset=utf-8" }, body: "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head></html>" };
    return { status: 401, body: this.#error("TF400813: The user 'Anonymous' is not authorized to access this resource.", "UnauthorizedRequestException") };
  }
}
