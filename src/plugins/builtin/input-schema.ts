// A small JSON Schema (draft 2020-12 subset) checker for the built-in integrations' inputs: the
// same schema is checked by `job submit` before sending and by the plugin before it acts, so a
// wrong input fails early with the field named, and a controller cannot slip one past the CLI.
// Supported: type, properties, required, additionalProperties, items, enum, const, minLength,
// maxLength, pattern, minimum, maximum, minItems, maxItems, maxProperties, propertyNames, anyOf.

import { EdgeError } from "../../errors.ts";
import { scrubUrls } from "../../config/url.ts";
import { quotedValue } from "./quoted-value.ts";

export interface JsonSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean" | "null" | Array<"object" | "array" | "string" | "integer" | "number" | "boolean" | "null">;
  description?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  maxProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  enum?: readonly unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: readonly JsonSchema[];
  default?: unknown;
  $schema?: string;
  title?: string;
  /** A secret reference: the name of a secret the job declared, never the value. */
  "x-secret-ref"?: true;
}

/** The first problem with `value` against `schema`, as "field: why", or undefined when it fits. */
export function findInputProblem(schema: JsonSchema, value: unknown, path = "input"): string | undefined {
  const types = schema.type === undefined ? undefined : Array.isArray(schema.type) ? schema.type : [schema.type];
  // An encrypted input ({"$secret": "<JWE>"}) stands for a string; the runner decrypts it.
  if (types?.includes("string") === true && isEncrypted(value)) return undefined;
  if (types !== undefined && !types.some((t) => isType(t, value))) return `${path} must be ${types.map(article).join(" or ")}, got ${describe(value)}`;
  if (schema.const !== undefined && value !== schema.const) return `${path} must be ${JSON.stringify(schema.const)}`;
  if (schema.enum !== undefined && !schema.enum.includes(value)) return `${path} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${describe(value)}`;
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) return `${path} must have at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${path} must have at most ${schema.maxLength} characters, got ${value.length}`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) return `${path} must match ${schema.pattern}, got ${describe(value)}`;
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return `${path} must be at least ${schema.minimum}, got ${value}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${path} must be at most ${schema.maximum}, got ${value}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${path} must have at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path} must have at most ${schema.maxItems} items, got ${value.length}`;
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const problem = findInputProblem(schema.items, value[i], `${path}[${i}]`);
        if (problem !== undefined) return problem;
      }
    }
  }
  if (isType("object", value)) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) return `${path} must have at most ${schema.maxProperties} entries, got ${keys.length}`;
    for (const name of schema.required ?? []) if (!Object.hasOwn(object, name)) return `${path}.${name} is required`;
    for (const key of keys) {
      const where = `${path}.${key}`;
      if (schema.propertyNames !== undefined) {
        const problem = findInputProblem(schema.propertyNames, key, `${path} key ${quotedValue(key, 64)}`);
        if (problem !== undefined) return problem;
      }
      const own = schema.properties !== undefined && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (own !== undefined) {
        const problem = findInputProblem(own, object[key], where);
        if (problem !== undefined) return problem;
      } else if (schema.additionalProperties === false) {
        return `${where} is not a known field${schema.properties === undefined ? "" : ` (known: ${Object.keys(schema.properties).join(", ")})`}`;
      } else if (typeof schema.additionalProperties === "object") {
        const problem = findInputProblem(schema.additionalProperties, object[key], where);
        if (problem !== undefined) return problem;
      }
    }
  }
  if (schema.anyOf !== undefined) {
    const problems = schema.anyOf.map((s) => findInputProblem(s, value, path));
    if (!problems.some((p) => p === undefined)) return problems[0];
  }
  return undefined;
}

/** Throws EdgeError `input_invalid` naming the plugin, the action and the field. */
export function checkInput(schema: JsonSchema, value: unknown, what: string): void {
  const problem = findInputProblem(schema, value);
  if (problem !== undefined) throw new EdgeError("input_invalid", `Cannot run ${what}: ${problem}`);
}

function isEncrypted(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { $secret?: unknown }).$secret === "string";
}

function isType(type: string, value: unknown): boolean {
  switch (type) {
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    case "array": return Array.isArray(value);
    case "integer": return Number.isInteger(value);
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "null": return value === null;
    default: return typeof value === type;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    // A URL is shown without user:password and query: a refused value may carry a token.
    const shown = scrubUrls(value);
    return quotedValue(shown, 60);
  }
  if (typeof value === "object") return "an object";
  return String(value);
}
