// The last update the runner sends about a run: the run status with a short summary, the steps
// closed, outputs with their type and isSensitive, and for DETECT the plan and changesDetected
// (as meshcloud's Go runner sends them). An async run instead ends the runner's part: its
// trigger step succeeds and the run stays IN_PROGRESS for the pipeline to report.

import type { JobResult } from "../../protocol/edge-v1.ts";
import { isSensitiveEntry } from "../../secrets/sensitive-outputs.ts";
import type { Behavior, ImplementationType, RunInput } from "./run-document.ts";
import { keepHead } from "./short-message.ts";

export const SUMMARY_MAX = 2000;
/** Steps of one run reported to meshStack (its own step included): a plugin's further steps are left out. */
export const MAX_STEPS = 1000;
const MAX_OUTPUTS = 1000;
const MAX_OUTPUT_KEY = 256;

export interface MeshOutput {
  value: unknown;
  type: string;
  isSensitive: boolean;
}

/** What the runner knows about a run besides the result: filled at claim time, steps as they go. */
export class RunReport {
  readonly runUuid: string;
  readonly implementationType: ImplementationType;
  readonly behavior: Behavior;
  readonly async: boolean;
  readonly mainStep: { id: string; displayName: string };
  /** The run's inputs as meshStack sent them (sensitive ones still encrypted): MANUAL copies them back. */
  readonly inputs: readonly RunInput[];
  readonly steps = new Map<string, { displayName: string; status: string }>();

  constructor(init: { runUuid: string; implementationType: ImplementationType; behavior: Behavior; async: boolean; mainStep: { id: string; displayName: string }; inputs: readonly RunInput[] }) {
    this.runUuid = init.runUuid;
    this.implementationType = init.implementationType;
    this.behavior = init.behavior;
    this.async = init.async;
    this.mainStep = init.mainStep;
    this.inputs = init.inputs;
    this.steps.set(init.mainStep.id, { displayName: init.mainStep.displayName, status: "PENDING" });
  }

  /** Records a step's status; false (and nothing recorded) for a new step past MAX_STEPS. */
  touchStep(id: string, displayName: string, status: string): boolean {
    if (this.steps.size >= MAX_STEPS && !this.steps.has(id)) return false;
    this.steps.set(id, { displayName, status });
    return true;
  }
}

export function finalUpdate(report: RunReport, result: JobResult, extra: { logTail: string; currentStep: { id: string; displayName: string } }): { body: Record<string, unknown>; handedOff: boolean } {
  const ok = result.status === "succeeded";
  const main: Record<string, unknown> = { id: report.mainStep.id, displayName: report.mainStep.displayName, status: ok ? "SUCCEEDED" : "FAILED" };
  const steps: Array<Record<string, unknown>> = [main];
  // Steps left open by the plugin end with the run.
  for (const [id, step] of report.steps) {
    if (id === report.mainStep.id) continue;
    if (step.status === "IN_PROGRESS" || step.status === "PENDING") steps.push({ id, displayName: step.displayName, status: ok ? "SUCCEEDED" : "FAILED" });
  }
  if (extra.logTail !== "") {
    const current = steps.find((s) => s.id === extra.currentStep.id);
    if (current !== undefined) current.systemMessage = extra.logTail;
    else steps.push({ id: extra.currentStep.id, systemMessage: extra.logTail });
  }
  if (ok && report.async) {
    main.userMessage = "Pipeline triggered; it reports the run's status to meshStack itself";
    return { body: { steps }, handedOff: true };
  }
  const body: Record<string, unknown> = { status: ok ? "SUCCEEDED" : "FAILED", summary: summary(result), steps };
  if (!ok) main.userMessage = body.summary;
  if (ok) {
    const outputs = report.implementationType === "MANUAL" ? manualOutputs(report.inputs) : pluginOutputs(result.output);
    if (Object.keys(outputs).length > 0) main.outputs = outputs;
  }
  if (report.behavior === "DETECT" && ok) {
    const out = result.output as { plan?: unknown; changesDetected?: unknown } | null | undefined;
    if (out !== null && typeof out === "object") {
      if (typeof out.plan === "string" && out.plan !== "") body.artifact = out.plan;
      if (typeof out.changesDetected === "boolean") body.changesDetected = out.changesDetected;
    }
  }
  return { body, handedOff: false };
}

function summary(result: JobResult): string {
  if (result.status === "succeeded") return "Run succeeded";
  const text =
    result.status === "interrupted"
      ? "The runner stopped before the run finished (drain timeout or a second stop signal); run it again"
      : result.status === "timed_out"
        ? `The run timed out${result.error ? `: ${result.error.message}` : ""}`
        : result.error?.message ?? `The run ended ${result.status}`;
  return keepHead(text, SUMMARY_MAX);
}

/** meshcloud's manual runner: inputs go back as outputs, sensitive ones as meshStack sent them (encrypted). */
export function manualOutputs(inputs: readonly RunInput[]): Record<string, MeshOutput> {
  const out: Record<string, MeshOutput> = {};
  for (const input of inputs.slice(0, MAX_OUTPUTS)) {
    const type = outputType(input.type);
    out[input.key] = input.isSensitive ? { value: input.value, type, isSensitive: true } : { ...fitToType(input.value, type), isSensitive: false };
  }
  return out;
}

/**
 * A value in clear as meshStack takes it for `type` (meshStack refuses an output whose value does
 * not fit its type): CODE and STRING are text, INTEGER a whole number, BOOLEAN a boolean. Text
 * that spells one ("5", "true") becomes it; a value that fits no other type goes as STRING text,
 * an object or list as CODE (JSON). null stays null (an output without a value).
 */
export function fitToType(value: unknown, type: string): { value: unknown; type: string } {
  if (value === null || value === undefined) return { value: null, type };
  if (typeof value === "object") return { value: JSON.stringify(value), type: "CODE" };
  if (type === "INTEGER") {
    if (typeof value === "number" && Number.isSafeInteger(value)) return { value, type };
    if (typeof value === "string" && /^-?\d{1,15}$/.test(value.trim())) return { value: Number(value.trim()), type };
  } else if (type === "BOOLEAN") {
    if (typeof value === "boolean") return { value, type };
    if (value === "true" || value === "false") return { value: value === "true", type };
  } else if (type === "CODE") {
    return { value: String(value), type };
  }
  return { value: String(value), type: "STRING" };
}

/** meshStack's output types are STRING, INTEGER, BOOLEAN and CODE (meshcloud's `toOutputType`). */
export function outputType(inputType: string): string {
  switch (inputType) {
    case "INTEGER":
    case "BOOLEAN":
    case "CODE":
    case "STRING":
      return inputType;
    case "LIST":
    case "MULTI_SELECT":
      return "CODE";
    default:
      return "STRING";
  }
}

/**
 * A plugin's output as meshStack outputs: `{outputs: {...}}` or the object itself; each value is
 * either plain (its type inferred) or `{value, type?, sensitive?|isSensitive?}`. Sensitive job
 * outputs (`ctx.outputs.set(name, value, {sensitive: true})`, top level `{"$sensitive": value}`)
 * go with their real value and `isSensitive: true`, as meshcloud's runner sends them.
 */
export function pluginOutputs(output: unknown): Record<string, MeshOutput> {
  if (output === null || typeof output !== "object" || Array.isArray(output)) return {};
  const source = (output as { outputs?: unknown }).outputs;
  const entries = Object.entries(source !== null && typeof source === "object" && !Array.isArray(source) ? (source as Record<string, unknown>) : (output as Record<string, unknown>));
  const out: Record<string, MeshOutput> = {};
  for (const [key, raw] of entries.slice(0, MAX_OUTPUTS)) {
    if (key.length > MAX_OUTPUT_KEY || (source === undefined && (key === "plan" || key === "changesDetected"))) continue;
    if (isSensitiveEntry(raw)) {
      out[key] = sensitiveOutput(raw.$sensitive);
      continue;
    }
    const wrapped = raw !== null && typeof raw === "object" && !Array.isArray(raw) && "value" in raw ? (raw as { value: unknown; type?: unknown; sensitive?: unknown; isSensitive?: unknown }) : undefined;
    const value = wrapped === undefined ? raw : wrapped.value;
    const type = typeof wrapped?.type === "string" ? outputType(wrapped.type.toUpperCase()) : inferType(value);
    out[key] = { ...fitToType(value, type), isSensitive: wrapped?.sensitive === true || wrapped?.isSensitive === true };
  }
  // With an `outputs` object, the sensitive job outputs are beside it at the top level (they win).
  if (source !== undefined) {
    for (const [key, raw] of Object.entries(output as Record<string, unknown>).slice(0, MAX_OUTPUTS)) {
      if (key.length <= MAX_OUTPUT_KEY && isSensitiveEntry(raw)) out[key] = sensitiveOutput(raw.$sensitive);
    }
  }
  return out;
}

function sensitiveOutput(value: unknown): MeshOutput {
  return { ...fitToType(value, inferType(value)), isSensitive: true };
}

function inferType(value: unknown): string {
  if (typeof value === "boolean") return "BOOLEAN";
  if (typeof value === "number" && Number.isInteger(value)) return "INTEGER";
  if (typeof value === "string" || typeof value === "number") return "STRING";
  return "CODE";
}
