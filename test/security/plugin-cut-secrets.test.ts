// A secret that a plugin's own cut splits before the runner sees the text: its first part must not
// leave the runner. The runner masks it where the cut ends a text (job-text.ts for steps and
// errors: terraform's 16 KiB step message, 200-character resource address and 1,000-character job
// error, a built-in's 500 characters; stream-cut.ts for a line printed outside a run), so a cut
// must end its text: the module fetch's git line, echo's input, a refused value quoted in a
// message, a write outside a run cut in the worker. Each test failed before its fix.

import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import echo from "../../src/plugins/builtin/echo/plugin.ts";
import gitlab from "../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import github from "../../src/plugins/builtin/github-workflow/plugin.ts";
import azure from "../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import http from "../../src/plugins/builtin/http/plugin.ts";
import { builtinInputProblem } from "../../src/plugins/builtin/schemas.ts";
import { fromMeshstack } from "../../src/plugins/builtin/terraform/meshstack-input.ts";
import { insideDir } from "../../src/plugins/builtin/work-dir.ts";
import { fetchModule } from "../../src/plugins/builtin/terraform/module-source.ts";
import { parseUiLine, UI_MESSAGE_MAX } from "../../src/plugins/builtin/terraform/json-ui.ts";
import { boundLine, boundOutcome, boundStep } from "../../src/plugins/job-text.ts";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import type { StepUpdate } from "../../src/protocol/edge-v1.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { FakeAzureDevops } from "../integrations/fakes/azure-devops.ts";
import { FakeGithub } from "../integrations/fakes/github.ts";
import { FakeGitlab } from "../integrations/fakes/gitlab.ts";

const SECRET = "s3cr3t-VALUE-0123456789";
const FIRST = "s3cr3t-VAL";
const dir = mkdtempSync(join(tmpdir(), "edge-runner-plugin-cut-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scopeWithSecret(): RedactionScope {
  const scope = new RedactionScope();
  scope.add(SECRET);
  return scope;
}

test("boundStep() masks the first part of a secret that terraform's 16 KiB cut of an apply_errored message split", () => {
  const scope = scopeWithSecret();
  const message = `${"m".repeat(UI_MESSAGE_MAX - 10)}${SECRET} and more`;
  const event = parseUiLine(JSON.stringify({ "@level": "error", "@message": message, type: "apply_errored", hook: { resource: { addr: "null_resource.r0" } } }));
  expect(boundLine(scope, { ts: 1, level: "error", msg: event.log!.msg }).msg).not.toContain(FIRST);
  const step = boundStep(scope, event.step!) as StepUpdate;
  expect(step.message).not.toContain(FIRST);
  expect(step.message).toEndWith("m[REDACTED]");
});

test("boundStep() masks the first part of a secret in a resource address terraform cut to 200 characters (the step's id and name)", () => {
  const scope = scopeWithSecret();
  const addr = `null_resource.r["${"k".repeat(190 - 'null_resource.r["'.length)}${SECRET}"]`;
  const event = parseUiLine(JSON.stringify({ "@level": "info", "@message": "Creating...", type: "apply_start", hook: { resource: { addr }, action: "create" } }));
  const step = boundStep(scope, event.step!) as StepUpdate;
  expect(step.name).not.toContain(FIRST);
  expect(step.name).toEndWith("k[REDACTED]");
  expect(step.id).not.toContain(FIRST.slice(0, 4));
  // The same address gives the same id at the resource's start and end: its step is one step.
  const done = parseUiLine(JSON.stringify({ "@level": "info", "@message": "Created", type: "apply_complete", hook: { resource: { addr } } }));
  expect((boundStep(scope, done.step!) as StepUpdate).id).toBe(step.id);
});

test("boundOutcome() masks the first part of a secret that terraform's job error (lastError cut to 1,000) split", () => {
  const scope = scopeWithSecret();
  const lastError = `local-exec provisioner error: ${"d".repeat(960)}${SECRET}${"d".repeat(20_000)}`;
  const message = `terraform apply exited with code 1: ${lastError.slice(0, 1000)}`; // plugin.ts fail()
  const outcome = boundOutcome(scope, { status: "failed", error: { code: "command_failed", message } });
  expect(outcome.error!.message).not.toContain(FIRST.slice(0, 4));
  expect(outcome.error!.message).toEndWith("d[REDACTED]");
});

test("boundStep() and boundOutcome() mask the first part of a secret a built-in's 500-character cut split, and in an error code", () => {
  const scope = scopeWithSecret();
  const cut = `${"e".repeat(490)}${SECRET}`.slice(0, 500);
  expect((boundStep(scope, { id: "find-run", status: "failed", message: cut }) as StepUpdate).message).toBe(`${"e".repeat(490)}[REDACTED]`);
  const outcome = boundOutcome(scope, { status: "failed", error: { code: `code_${SECRET.slice(0, 8)}`, message: cut } });
  expect(outcome.error).toEqual({ code: "code_[REDACTED]", message: `${"e".repeat(490)}[REDACTED]` });
});

test("boundStep() and boundOutcome() leave text that ends with no secret's first characters as it is", () => {
  const scope = scopeWithSecret();
  // "s3c" is under 4 characters (too short to tell from text); "s3cX" begins no secret.
  const step = boundStep(scope, { id: "resource:a.s3c", name: "a s3cX", status: "running", message: "Creating..." });
  expect(step).toEqual({ id: "resource:a.s3c", name: "a s3cX", status: "running", message: "Creating..." });
  const outcome = boundOutcome(scope, { status: "failed", error: { code: "command_failed", message: "terraform apply exited with code 1: Error: s3cr3t" } });
  // The last case is the price of the rule: an uncut text ending with 4 or more of a secret's first characters.
  expect(outcome.error).toEqual({ code: "command_failed", message: "terraform apply exited with code 1: Error: [REDACTED]" });
});

test("terraform's module fetch ends its error with git's line cut to 500 characters, so boundOutcome() masks a secret's first part there", async () => {
  // A fake git whose fatal line holds the secret across its 500th character.
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(dir, "line.txt"), `fatal: ${"g".repeat(490 - "fatal: ".length)}${SECRET} more\n`);
  writeFileSync(join(bin, "git"), `#!/bin/sh\ncat '${join(dir, "line.txt")}' >&2\nexit 128\n`);
  chmodSync(join(bin, "git"), 0o755);
  const error = await fetchModule({ git: "https://git.test/acme/infra.git" }, dir, { PATH: `${bin}:/usr/bin:/bin` }, createTestContext()).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  const message = boundOutcome(scopeWithSecret(), { status: "failed", error: { code: (error as EdgeError).code, message: (error as EdgeError).message } }).error!.message;
  expect(message).not.toContain(FIRST.slice(0, 4));
  expect(message).toStartWith('Cannot fetch the terraform module from "https://git.test/acme/infra.git": git clone exited with code 128: fatal: ggg');
});

test("echo's log line and error quote a long input cut to 2,048 characters last, so a secret's first part there is masked", async () => {
  const scope = scopeWithSecret();
  const input = `${"i".repeat(2040)}${SECRET} and more`;
  const ctx = createTestContext();
  await echo.actions.default?.(input, ctx);
  expect(ctx.lines).toHaveLength(1);
  expect(boundLine(scope, { ts: 1, level: "info", msg: ctx.lines[0]!.msg }).msg).not.toContain(FIRST.slice(0, 4));
  const error = await Promise.resolve().then(() => echo.actions.sleep?.({ ms: input }, createTestContext())).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect(boundOutcome(scope, { status: "failed", error: { code: "input_invalid", message: (error as EdgeError).message } }).error!.message).not.toContain(FIRST.slice(0, 4));
});

test("a refused URL, path or input value is quoted whole or not at all, never cut before a closing quote (http, work-dir, meshStack path, input schema)", async () => {
  const scope = scopeWithSecret();
  const refusals: string[] = [];
  const refusalOf = async (run: () => unknown): Promise<void> => {
    const error = await Promise.resolve().then(run).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    refusals.push((error as EdgeError).message);
  };
  await refusalOf(() => http.actions.request?.({ url: `${"u".repeat(195)}${SECRET}` }, createTestContext()));
  await refusalOf(() => insideDir(dir, `../${"p".repeat(192)}${SECRET}`, "cwd"));
  const meshstack = { runUuid: "run-1", registerSourceUrl: "https://mesh.test/register", updateSourceUrl: "https://mesh.test/update", runToken: "tok" };
  await refusalOf(() => fromMeshstack({ meshstack, implementation: { repositoryUrl: "https://x.test/r.git", repositoryPath: `../${"p".repeat(192)}${SECRET}` } } as never));
  refusals.push(builtinInputProblem("shell", "run", { command: `${"c".repeat(55)}${SECRET}` }) ?? "no problem found");
  for (const message of refusals) {
    expect(boundOutcome(scope, { status: "failed", error: { code: "input_invalid", message } }).error!.message).not.toContain(FIRST.slice(0, 4));
    expect(message).toContain(`characters, not shown)`);
  }
  // A short value is still quoted whole (and a secret in it masked whole).
  expect(builtinInputProblem("shell", "run", { command: "ls -l" })).toContain('got "ls -l"');
});

test("GitLab's step name shows a stage over 100 characters only by its length, so a secret in it is not cut before the job's name", async () => {
  const gl = new FakeGitlab();
  await gl.start();
  try {
    gl.pollsToComplete = 1;
    gl.firstStage = `${"t".repeat(90)}${SECRET}`;
    const ctx = createTestContext({ secrets: { gl: gl.accessToken } });
    expect(await gitlab.actions.trigger?.({ baseUrl: gl.url, projectId: "acme/app", ref: "main", tokenRef: "gl", pollMs: 100 }, ctx)).toMatchObject({ status: "success" });
    const names = ctx.steps.filter((s) => s.id.startsWith("job-")).map((s) => (boundStep(scopeWithSecret(), s) as StepUpdate).name ?? "");
    expect(names).toContain(`(${90 + SECRET.length} characters, not shown): compile`);
    expect(names).toContain("deploy: release");
    for (const name of names) expect(name).not.toContain(FIRST.slice(0, 4));
  } finally {
    await gl.stop();
  }
});

test("a pipeline state over 100 characters is quoted only by its length, never cut before the closing quote (GitHub's conclusion and Azure's result in the error, GitLab's status in the log)", async () => {
  const scope = scopeWithSecret();
  const state = `${"t".repeat(90)}${SECRET}`;
  const gh = new FakeGithub();
  const az = new FakeAzureDevops();
  const gl = new FakeGitlab();
  await Promise.all([gh.start(), az.start(), gl.start()]);
  try {
    const errors: string[] = [];
    const errorOf = async (run: Promise<unknown>): Promise<void> => {
      const error = await run.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(EdgeError);
      errors.push((error as EdgeError).message);
    };
    gh.pollsToComplete = 1;
    gh.conclusion = state;
    await errorOf(github.actions.dispatch?.({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", pollMs: 100 }, createTestContext({ secrets: { gh: "ghp_fake_personal_token_value" } })) as Promise<unknown>);
    az.pollsToComplete = 1;
    az.result = state;
    await errorOf(azure.actions.run?.({ baseUrl: az.url, organization: "acme", project: "Platform", pipelineId: 12, patRef: "az", pollMs: 100 }, createTestContext({ secrets: { az: az.pat } })) as Promise<unknown>);
    for (const message of errors) {
      expect(message).toContain('"(113 characters, not shown)"');
      expect(boundOutcome(scope, { status: "failed", error: { code: "integration_failed", message } }).error!.message).not.toContain(FIRST.slice(0, 4));
    }
    // GitLab: an unknown status is not final; the job follows the pipeline until it is cancelled.
    gl.pollsToComplete = 1;
    gl.finalStatus = state;
    const controller = new AbortController();
    const ctx = createTestContext({ signal: controller.signal, secrets: { gl: gl.accessToken } });
    const run = gitlab.actions.trigger?.({ baseUrl: gl.url, projectId: "acme/app", ref: "main", tokenRef: "gl", pollMs: 100 }, ctx) as Promise<unknown>;
    const deadline = Date.now() + 5000;
    while (gl.pipelines.at(-1) === undefined || gl.pipelines.at(-1)!.polls < 2) {
      if (Date.now() > deadline) throw new Error("the pipeline was not polled twice");
      await new Promise((r) => setTimeout(r, 20));
    }
    controller.abort("Job timed out");
    await run.then(() => undefined, () => undefined);
    expect(ctx.lines.map((l) => l.msg)).toContain(`GitLab: pipeline ${gl.pipelines.at(-1)!.id} is "(113 characters, not shown)"`);
    for (const line of ctx.lines) expect(boundLine(scope, { ts: 1, level: line.level, msg: line.msg }).msg).not.toContain(FIRST.slice(0, 4));
  } finally {
    await Promise.all([gh.stop(), az.stop(), gl.stop()]);
  }
});

test("what a plugin writes outside a run, cut to the worker's 16 KiB mid-secret, reaches the runner's log without the secret's first part", async () => {
  const { logger, records } = memoryLogger("debug");
  // A write keeps 16,383 characters (the worker's STRAY_MAX_CHARS - 1), here ending 10 characters
  // into the secret; the line goes on with the next write. The host passes a line on in 64 KiB
  // pieces and logs a piece's first 4,096 characters: 51,153 characters before the write put the
  // secret's first part at the start of the second piece.
  const source = `export default { name: "late-cut", version: "1.0.0", actions: { default(input) { setTimeout(() => {
    for (const n of [16384, 16384, 16384, 2001]) process.stdout.write("w".repeat(n));
    process.stdout.write("v".repeat(16373) + input.s + " more");
    process.stdout.write(" next\\n");
  }, 20); return { ok: true }; } } };`;
  const file = join(dir, "late-cut.mjs");
  writeFileSync(file, source);
  const pool = new PluginPool({ idleMs: 60_000, logger, resolve: () => fileBundleSource(file, "late-cut", "1.0.0") });
  try {
    const outcome = await pool.run({ jobId: "j1", attempt: 1, plugin: "late-cut@1.0.0", action: "default", input: { s: SECRET }, timeoutMs: 10_000, signal: new AbortController().signal, onLog: () => {}, onStep: () => {}, redaction: scopeWithSecret() });
    expect(outcome.status).toBe("succeeded");
    const printed = () => records.filter((r) => r.msg === "Plugin printed outside a run");
    const deadline = Date.now() + 5000;
    while (!JSON.stringify(printed()).includes("next") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(JSON.stringify(printed())).toContain("next");
    // The second piece's start is logged: the cut part is in view.
    expect(JSON.stringify(printed()[1])).toContain("vvvv");
    expect(JSON.stringify(records)).not.toContain(FIRST.slice(0, 4));
  } finally {
    await pool.close();
  }
});
