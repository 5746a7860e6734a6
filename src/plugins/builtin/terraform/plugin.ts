// Built-in "terraform" (Terraform or OpenTofu): fetch the module into the job's own directory,
// write the inputs as *.auto.tfvars.json, `init`, then `plan` (detect), `apply` or `destroy` from
// a saved plan (a meshStack APPLY after a DETECT: the approved plan itself, never a new one), with `-json` machine output turned into steps and log lines and `output -json`
// into outputs (sensitive ones as sensitive job outputs: the real value for the controller, masked
// everywhere else). Credentials come from secrets as environment variables
// or variables; each run has its own working and data directory, so concurrent runs never share one.

import { access, chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { constants as fsConstants } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { EdgeError } from "../../../errors.ts";
import { proxyVariables } from "../../../platform/proxy.ts";
import { runCommand } from "../../processes/run-command.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { cut, parseUiLine, UI_LINE_MAX } from "./json-ui.ts";
import { fetchModule, type ModuleSource } from "./module-source.ts";
import { integrationInput } from "../meshstack-run.ts";
import { fromMeshstack } from "./meshstack-input.ts";
import { TERRAFORM_INPUT } from "./schema.ts";
import { PLAN_IN_OUTPUT_MAX, readPlanForMeshstack } from "./plan-for-meshstack.ts";
import { keepPlan } from "./keep-plan.ts";
import { approvedPlanFailure, decodeApprovedPlan, removeApprovedPlan, writeApprovedPlan } from "./approved-plan.ts";

export interface TerraformInput {
  module: ModuleSource & { sshKey?: string; knownHosts?: string };
  variables?: Record<string, unknown>;
  secretVariables?: Record<string, string>;
  env?: Record<string, string>;
  secretEnv?: Record<string, string>;
  backendConfig?: Record<string, string>;
  binary?: string;
  keepPlan?: boolean;
  killGraceMs?: number;
  /** meshStack DETECT: the plan goes back in the output as `plan` (base64). */
  planInOutput?: boolean;
  /**
   * meshStack APPLY after a DETECT: the approved plan (base64), applied as it is. Set only from a
   * meshStack run (meshstack-input.ts); the schema has no such field, so an edge job cannot.
   */
  approvedPlan?: string;
}

type Operation = "plan" | "apply" | "destroy";
const OUTPUT_MAX_BYTES = 1024 * 1024;
const SENSITIVE = "(sensitive value)";
/** ctx.outputs.set's name rule; a sensitive output named otherwise stays a marker. */
const JOB_OUTPUT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** The keys of this plugin's own result: a sensitive output of that name would be overwritten by it. */
const RESULT_KEYS = new Set(["changesDetected", "changes", "outputs", "planArtifact", "plan", "result"]);

function action(operation: Operation) {
  return async function terraform(raw: unknown, ctx: ActionContext): Promise<Record<string, unknown>> {
    const input = integrationInput<TerraformInput>(raw, TERRAFORM_INPUT, `terraform ${operation}`, fromMeshstack);
    const workDir = await mkdtemp(join(tmpdir(), "edge-runner-terraform-"));
    try {
      await chmod(workDir, 0o700);
      return await run(operation, input, workDir, ctx);
    } finally {
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
  };
}

async function run(operation: Operation, input: TerraformInput, workDir: string, ctx: ActionContext): Promise<Record<string, unknown>> {
  if (input.approvedPlan !== undefined && operation !== "apply") throw new EdgeError("input_invalid", `Cannot run terraform ${operation} with a plan to apply: meshStack sends one only with an APPLY`);
  // Checked before anything is fetched or run: a plan that cannot be the approved one fails at once.
  const approved = input.approvedPlan === undefined ? undefined : decodeApprovedPlan(input.approvedPlan);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: workDir,
    TMPDIR: workDir,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    // Per run: providers, modules and the backend's local state of one run never meet another's.
    TF_DATA_DIR: join(workDir, ".terraform-data"),
    // Providers, modules and the backend are downloaded through the runner's proxy, if it has one.
    ...proxyVariables(),
    ...input.env,
  };
  for (const [name, ref] of Object.entries(input.secretEnv ?? {})) env[name] = await ctx.secrets.get(ref);
  const binary = await findBinary(input.binary, env.PATH ?? "");
  const dir = await fetchModule(input.module, workDir, env, ctx);
  await writeFile(join(dir, "edge-runner.auto.tfvars.json"), JSON.stringify(input.variables ?? {}), { mode: 0o600 });
  if (input.secretVariables !== undefined) {
    const values: Record<string, string> = {};
    for (const [name, ref] of Object.entries(input.secretVariables)) values[name] = await ctx.secrets.get(ref);
    await writeFile(join(dir, "edge-runner-secrets.auto.tfvars.json"), JSON.stringify(values), { mode: 0o600 });
  }
  const tf = (name: string, args: string[], json: boolean) => terraformCommand({ binary, dir, env, ctx, name, args, json, graceMs: input.killGraceMs ?? 30_000 });

  const backend = Object.entries(input.backendConfig ?? {}).map(([k, v]) => `-backend-config=${k}=${v}`);
  await tf("init", ["init", "-input=false", "-no-color", ...backend], false).then(expectSuccess("init"));
  if (approved !== undefined) return await applyApproved(approved, { workDir, dir, binary, env, ctx, tf });
  const planArgs = ["plan", "-input=false", "-json", "-detailed-exitcode", "-out=tfplan", ...(operation === "destroy" ? ["-destroy"] : [])];
  const plan = await tf("plan", planArgs, true);
  // -detailed-exitcode: 0 no changes, 2 changes present, anything else an error.
  if (plan.code !== 0 && plan.code !== 2) fail("plan", plan);
  const changesDetected = plan.code === 2;
  const result: Record<string, unknown> = { changesDetected, ...(plan.changes === undefined ? {} : { changes: plan.changes }) };
  if (input.keepPlan === true) result.planArtifact = await keepPlan(join(dir, "tfplan"), ctx);
  if (input.planInOutput === true && operation === "plan") await planForMeshstack(join(dir, "tfplan"), ctx, result);
  if (operation === "plan") return result;
  if (changesDetected) {
    const apply = await tf("apply", ["apply", "-input=false", "-json", "-auto-approve", "tfplan"], true);
    if (apply.code !== 0) fail("apply", apply);
    if (apply.changes !== undefined) result.changes = apply.changes;
  } else {
    ctx.log.info("No changes: nothing to apply");
  }
  if (operation === "apply") result.outputs = await readOutputs(binary, dir, env, ctx);
  return result;
}

/**
 * `terraform apply FILE` with the approved plan: no plan of its own. Terraform takes the variables
 * from the plan and refuses it when the state changed since ("Saved plan is stale"); either way
 * the job fails saying so, and nothing is planned or applied in its place.
 */
async function applyApproved(plan: Uint8Array, o: { workDir: string; dir: string; binary: string; env: Record<string, string>; ctx: ActionContext; tf: (name: string, args: string[], json: boolean) => Promise<TfRun> }): Promise<Record<string, unknown>> {
  o.ctx.log.info(`Applying the plan approved in meshStack (${plan.byteLength} bytes) as it is, without planning again`);
  const file = await writeApprovedPlan(o.workDir, plan);
  let apply: TfRun;
  try {
    apply = await o.tf("apply", ["apply", "-input=false", "-json", "-auto-approve", file], true);
  } finally {
    await removeApprovedPlan(file);
  }
  if (apply.cancelled) fail("apply", apply);
  if (apply.code !== 0) throw new EdgeError("command_failed", approvedPlanFailure(apply.lastError, apply.code));
  const result: Record<string, unknown> = {};
  if (apply.changes !== undefined) {
    result.changesDetected = apply.changes.add + apply.changes.change + apply.changes.remove > 0;
    result.changes = apply.changes;
  }
  result.outputs = await readOutputs(o.binary, o.dir, o.env, o.ctx);
  return result;
}

interface TfRun {
  code: number;
  cancelled: boolean;
  changes?: { add: number; change: number; remove: number };
  lastError?: string;
}

async function terraformCommand(o: { binary: string; dir: string; env: Record<string, string>; ctx: ActionContext; name: string; args: string[]; json: boolean; graceMs: number }): Promise<TfRun> {
  const { ctx } = o;
  const step = { id: `terraform-${o.name}`, name: `terraform ${o.name}` };
  ctx.step({ ...step, status: "running" });
  const state: TfRun = { code: 0, cancelled: false };
  const onUiLine = (line: string): void => {
    const event = parseUiLine(line);
    if (event.log !== undefined) ctx.log[event.log.level](event.log.msg);
    if (event.log?.level === "error") state.lastError = event.log.msg;
    if (event.step !== undefined) ctx.step(event.step);
    if (event.changes !== undefined) state.changes = event.changes;
  };
  // Runs inside the child's stdout handler: a throw there would be an uncaught error that breaks
  // the worker mid-apply. One line that cannot be handled is logged as text instead.
  const onLine = (line: string): void => {
    if (!o.json) return ctx.log.info(line);
    try {
      onUiLine(line);
    } catch {
      ctx.log.info(cut(line));
    }
  };
  const exit = await runCommand({
    argv: [o.binary, ...o.args], cwd: o.dir, env: o.env, signal: ctx.signal, graceMs: o.graceMs, onStdout: onLine, onStderr: (line) => ctx.log.warn(line),
    ...(o.json ? { stdoutLineMax: UI_LINE_MAX } : {}),
  });
  state.code = exit.code;
  state.cancelled = exit.cancelled;
  const ok = exit.code === 0 || (o.name === "plan" && exit.code === 2);
  ctx.step({ ...step, status: ok && !exit.cancelled ? "succeeded" : "failed" });
  return state;
}

function expectSuccess(name: string) {
  return (run: TfRun): void => {
    if (run.code !== 0) fail(name, run);
  };
}

function fail(name: string, run: TfRun): never {
  if (run.cancelled) throw new EdgeError("job_cancelled", `terraform ${name} stopped: the job was cancelled`);
  const why = run.lastError === undefined ? "" : `: ${run.lastError.slice(0, 1000)}`;
  throw new EdgeError("command_failed", `terraform ${name} exited with code ${run.code}${why}`);
}

/**
 * `terraform output -json` as {name: value}. A sensitive output becomes a sensitive job output
 * (`ctx.outputs.set(name, value, {sensitive: true})`: masked in every log, step and error, sealed
 * by the reference controller, sent to meshStack with isSensitive) and shows here as a marker.
 */
async function readOutputs(binary: string, dir: string, env: Record<string, string>, ctx: ActionContext): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  const exit = await runCommand({
    argv: [binary, "output", "-json"], cwd: dir, env, signal: ctx.signal,
    onStdout: () => undefined,
    onStderr: (line) => ctx.log.warn(line),
    onStdoutChunk: (chunk) => {
      size += chunk.byteLength;
      if (size <= OUTPUT_MAX_BYTES) chunks.push(Buffer.from(chunk));
    },
  });
  if (exit.code !== 0) fail("output", { code: exit.code, cancelled: exit.cancelled });
  if (size > OUTPUT_MAX_BYTES) throw new EdgeError("command_failed", `terraform output is ${size} bytes, over the limit of ${OUTPUT_MAX_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new EdgeError("command_failed", "terraform output -json did not print JSON");
  }
  const outputs: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries((parsed ?? {}) as Record<string, { sensitive?: boolean; value?: unknown }>)) {
    if (entry?.sensitive !== true) {
      outputs[name] = entry?.value;
      continue;
    }
    outputs[name] = SENSITIVE;
    if (JOB_OUTPUT_NAME.test(name) && !RESULT_KEYS.has(name)) ctx.outputs.set(name, entry.value ?? null, { sensitive: true });
    else ctx.log.warn(`Sensitive output "${name.slice(0, 64)}" is not passed on: a job output name is a letter, then up to 63 letters, digits, "_" or "-", and not one of ${[...RESULT_KEYS].join(", ")}`);
  }
  return outputs;
}

/** meshStack takes a DETECT run's plan back as `artifact` (base64) with the result; over 512 KiB it is left out, saying so. */
async function planForMeshstack(file: string, ctx: ActionContext, result: Record<string, unknown>): Promise<void> {
  const read = await readPlanForMeshstack(file);
  if ("size" in read) {
    ctx.log.warn(`The plan file is ${read.size} bytes, over ${PLAN_IN_OUTPUT_MAX}: not sent to meshStack`);
    return;
  }
  result.plan = read.plan;
}

/** The configured binary, or terraform, else tofu, from PATH. */
async function findBinary(configured: string | undefined, path: string): Promise<string> {
  const candidates = configured !== undefined ? [configured] : ["terraform", "tofu"];
  for (const name of candidates) {
    const dirs = isAbsolute(name) ? [""] : path.split(delimiter).filter((d) => d !== "");
    for (const dir of dirs) {
      const full = dir === "" ? name : join(dir, name);
      try {
        await access(full, fsConstants.X_OK);
        return full;
      } catch {
        // next
      }
    }
  }
  throw new EdgeError("input_invalid", `Cannot run terraform: no executable ${candidates.map((c) => `"${c}"`).join(" or ")} found${configured === undefined ? " on PATH (set \"binary\")" : ""}`);
}

export default definePlugin({
  name: "terraform",
  version: "1.0.0",
  // meshStack names the action after the run's behavior: apply, destroy, detect (a plan).
  actions: { default: action("plan"), plan: action("plan"), detect: action("plan"), apply: action("apply"), destroy: action("destroy") },
});
