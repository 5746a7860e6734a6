// The fake meshStack's check of the request bodies a runner sends (meshstack-protocol.md, "Status
// reporting", and meshcloud's go-meshapi-client dtos.go where the doc is silent): the login, the
// empty claim, the source registration and the status update. A wrong type, a missing required
// field or a status value meshStack does not know is `refused` (meshStack answers 400); a field
// meshStack does not know is only `unknown`: meshStack (Jackson's default) ignores it, so a
// misspelt field would be lost without an error, and the tests see it as a violation instead.

/** Run statuses (the doc's list); a runner never sends PENDING as the run's status. */
export const RUN_STATUSES = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "ABORTED"] as const;
/** Step statuses: steps may be PENDING (registered so by default). */
export const STEP_STATUSES = ["PENDING", "IN_PROGRESS", "SUCCEEDED", "FAILED", "ABORTED"] as const;
/** Output types meshStack takes (meshcloud's runners map every input type onto these). */
export const OUTPUT_TYPES = ["STRING", "INTEGER", "BOOLEAN", "CODE"] as const;

export interface BodyVerdict {
  /** Problems meshStack answers 400 for. */
  refused: string[];
  /** Fields meshStack ignores: violations, not refusals. */
  unknown: string[];
}

type Json = Record<string, unknown>;

class Checker {
  readonly refused: string[] = [];
  readonly unknown: string[] = [];

  object(value: unknown, path: string): value is Json {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return true;
    this.refused.push(`${path} is not an object`);
    return false;
  }

  /** `required`: absent (or null) is refused; an optional field may be null, as Go's DTOs send it. */
  string(o: Json, key: string, path: string, options: { required?: boolean; oneOf?: readonly string[]; nonEmpty?: boolean } = {}): void {
    const value = o[key];
    if (value === undefined || value === null) {
      if (options.required === true) this.refused.push(`${path}.${key} is missing`);
      return;
    }
    if (typeof value !== "string") return void this.refused.push(`${path}.${key} is not a string`);
    if (options.nonEmpty === true && value === "") this.refused.push(`${path}.${key} is empty`);
    if (options.oneOf !== undefined && !options.oneOf.includes(value)) this.refused.push(`${path}.${key} "${value}" is not one of ${options.oneOf.join(", ")}`);
  }

  boolean(o: Json, key: string, path: string, required = false): void {
    const value = o[key];
    if (value === undefined || value === null) {
      if (required) this.refused.push(`${path}.${key} is missing`);
      return;
    }
    if (typeof value !== "boolean") this.refused.push(`${path}.${key} is not a boolean`);
  }

  known(o: Json, keys: readonly string[], path: string): void {
    for (const key of Object.keys(o)) if (!keys.includes(key)) this.unknown.push(`${path}.${key} is not a field meshStack knows`);
  }

  verdict(): BodyVerdict {
    return { refused: this.refused, unknown: this.unknown };
  }
}

function parse(text: string, c: Checker): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    c.refused.push("the body is not JSON");
    return undefined;
  }
}

/** POST /api/login: `{clientId, clientSecret}`. */
export function checkLoginBody(text: string): BodyVerdict {
  const c = new Checker();
  const body = parse(text, c);
  if (c.refused.length === 0 && c.object(body, "login")) {
    c.string(body, "clientId", "login", { required: true });
    c.string(body, "clientSecret", "login", { required: true });
    c.known(body, ["clientId", "clientSecret"], "login");
  }
  return c.verdict();
}

/** The claim POST carries no body. */
export function checkClaimBody(text: string): BodyVerdict {
  return { refused: text === "" ? [] : ["the claim has a body; it takes none"], unknown: [] };
}

/** POST registerSource: `{source: {id, externalRunId?, externalRunUrl?}, steps: [{id, displayName, status?}]}`. */
export function checkRegisterBody(text: string): BodyVerdict {
  const c = new Checker();
  const body = parse(text, c);
  if (c.refused.length > 0 || !c.object(body, "register")) return c.verdict();
  c.known(body, ["source", "steps"], "register");
  if (body.source === undefined || body.source === null) c.refused.push("register.source is missing");
  else if (c.object(body.source, "register.source")) {
    const source = body.source;
    c.string(source, "id", "register.source", { required: true, nonEmpty: true });
    // Kotlin runners name them externalRunId/externalRunUrl, the Go client externalId/externalUrl.
    for (const key of ["externalRunId", "externalRunUrl", "externalId", "externalUrl"]) c.string(source, key, "register.source");
    c.known(source, ["id", "externalRunId", "externalRunUrl", "externalId", "externalUrl"], "register.source");
  }
  if (!Array.isArray(body.steps)) c.refused.push("register.steps is not an array");
  else {
    body.steps.forEach((step: unknown, i: number) => {
      const path = `register.steps[${i}]`;
      if (!c.object(step, path)) return;
      c.string(step, "id", path, { required: true, nonEmpty: true });
      c.string(step, "displayName", path, { required: true });
      c.string(step, "status", path, { oneOf: STEP_STATUSES });
      c.known(step, ["id", "displayName", "status"], path);
    });
  }
  return c.verdict();
}

/**
 * PATCH updateSource: `{status?, summary?, steps: [{id, displayName?, status?, userMessage?,
 * systemMessage?, outputs?: {key: {value, type, isSensitive}}}]}`, and for DETECT `artifact`
 * (the plan, base64) and `changesDetected`, beside what meshcloud's Go runner also sends
 * (`blockRunId`, `source`, `type`, `createdOn`).
 */
export function checkUpdateBody(text: string): BodyVerdict {
  const c = new Checker();
  const body = parse(text, c);
  if (c.refused.length > 0 || !c.object(body, "update")) return c.verdict();
  c.known(body, ["status", "summary", "steps", "artifact", "changesDetected", "blockRunId", "source", "type", "createdOn"], "update");
  c.string(body, "status", "update", { oneOf: RUN_STATUSES });
  c.string(body, "summary", "update");
  c.string(body, "artifact", "update");
  if (typeof body.artifact === "string" && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.artifact)) c.refused.push("update.artifact is not base64");
  c.boolean(body, "changesDetected", "update");
  if (!Array.isArray(body.steps)) {
    c.refused.push("update.steps is not an array");
    return c.verdict();
  }
  body.steps.forEach((step: unknown, i: number) => {
    const path = `update.steps[${i}]`;
    if (!c.object(step, path)) return;
    c.string(step, "id", path, { required: true, nonEmpty: true });
    c.string(step, "displayName", path);
    c.string(step, "status", path, { oneOf: STEP_STATUSES });
    c.string(step, "userMessage", path);
    c.string(step, "systemMessage", path);
    c.known(step, ["id", "displayName", "status", "userMessage", "systemMessage", "outputs"], path);
    if (step.outputs === undefined || step.outputs === null || !c.object(step.outputs, `${path}.outputs`)) return;
    for (const [key, output] of Object.entries(step.outputs)) checkOutput(c, output, `${path}.outputs.${key}`);
  });
  return c.verdict();
}

/** `{value, type, isSensitive}`, all three present; a value in clear fits its type (a sensitive one is meshStack's ciphertext). */
function checkOutput(c: Checker, output: unknown, path: string): void {
  if (!c.object(output, path)) return;
  if (!("value" in output)) c.refused.push(`${path}.value is missing`);
  c.string(output, "type", path, { required: true, oneOf: OUTPUT_TYPES });
  c.boolean(output, "isSensitive", path, true);
  c.known(output, ["value", "type", "isSensitive"], path);
  if (output.isSensitive === true || output.value === null || output.value === undefined) return;
  const value = output.value;
  const fits =
    output.type === "INTEGER" ? typeof value === "number" && Number.isInteger(value)
    : output.type === "BOOLEAN" ? typeof value === "boolean"
    : typeof value === "string";
  if (!fits) c.refused.push(`${path}.value ${JSON.stringify(value)?.slice(0, 60)} is not a ${String(output.type)} value`);
}
