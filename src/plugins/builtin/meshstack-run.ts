// A meshStack run as the meshStack adapter hands it to a built-in integration
// (src/controller/meshstack/implementations.ts): behavior, inputs, environment inputs, the
// implementation's fields with its secrets decrypted, async, the run's URLs and token, and the
// run object meshcloud's runners hand to pipelines (run-object.ts). Each integration turns it into
// its own input; these are the pieces they share.

import { EdgeError } from "../../errors.ts";
import { checkInput, type JsonSchema } from "./input-schema.ts";

export interface MeshstackRun {
  meshstack: Record<string, unknown>;
  behavior?: unknown;
  async?: unknown;
  inputs?: Record<string, unknown>;
  environment?: Record<string, unknown>;
  implementation?: Record<string, unknown>;
  /** The inputs in meshStack's order, values decrypted. */
  inputList?: MeshstackInput[];
  /** GitHub and GitLab runs: the run as meshcloud's runners pass it to a pipeline (MESHSTACK_RUN, buildingBlockRun). */
  runObject?: Record<string, unknown>;
}

/** A building block input as meshStack lists it (value decrypted). */
export interface MeshstackInput {
  key: string;
  value: unknown;
  type: string;
  isSensitive: boolean;
  isEnvironment: boolean;
}

/** The building block's inputs, or `input_invalid` when the adapter gave none (it always does). */
export function inputListOf(run: MeshstackRun, type: string): MeshstackInput[] {
  if (!Array.isArray(run.inputList)) throw new EdgeError("input_invalid", `Cannot run a meshStack ${type} run: the adapter gave no input list`);
  return run.inputList;
}

/** The run object, or `input_invalid` when the adapter gave none (it does for GitHub and GitLab runs). */
export function runObjectOf(run: MeshstackRun, type: string): Record<string, unknown> {
  if (run.runObject === undefined) throw new EdgeError("input_invalid", `Cannot run a meshStack ${type} run: the adapter gave no run object`);
  return run.runObject;
}

/** True for the adapter's shape (it always carries `meshstack`); edge jobs never do (their schemas refuse it). */
export function isMeshstackRun(raw: unknown): raw is MeshstackRun {
  return raw !== null && typeof raw === "object" && typeof (raw as { meshstack?: unknown }).meshstack === "object" && (raw as { meshstack?: unknown }).meshstack !== null;
}

/** Reads implementation fields: `optional` gives undefined for a missing one, `required` fails naming it. */
export function implementationFields(run: MeshstackRun, type: string): { optional(key: string): string | undefined; required(key: string): string } {
  const impl = run.implementation ?? {};
  const optional = (key: string): string | undefined => {
    const value = impl[key];
    return (typeof value === "string" && value !== "") || typeof value === "number" ? String(value) : undefined;
  };
  return {
    optional,
    required(key) {
      const value = optional(key);
      if (value === undefined) throw new EdgeError("input_invalid", `Cannot run a meshStack ${type} run: implementation.${key} is missing`);
      return value;
    },
  };
}

/** A plugin's own input: converted from a meshStack run, or checked against its schema (`input_invalid` naming the field). */
export function integrationInput<T>(raw: unknown, schema: JsonSchema, what: string, fromMeshstack: (run: MeshstackRun) => T): T {
  if (isMeshstackRun(raw)) return fromMeshstack(raw);
  checkInput(schema, raw, what);
  return raw as T;
}
