// The protocol features the controller of a session understands, from its session answer's
// `features` (docs/protocol.md, "Features"). The runner uses an optional feature only where it is
// listed: a controller that predates the list lists nothing, so it gets the base protocol.

import { EdgeError } from "../../errors.ts";
import { EDGE_FEATURES, type EdgeFeature } from "../../protocol/edge-v1.ts";
import { MAX_FEATURE_CHARS, MAX_SESSION_FEATURES } from "../../protocol/limits.ts";

/**
 * The features this runner knows that the answer lists; unknown names are ignored (a newer
 * controller may list more). A missing list is empty; a list that is not one (not an array, too
 * long, an entry that is not a name of 1 to MAX_FEATURE_CHARS characters) is a protocol error.
 */
export function sessionFeatures(value: unknown): ReadonlySet<EdgeFeature> {
  if (value === undefined) return new Set();
  const problem = featuresProblem(value);
  if (problem !== undefined) {
    throw new EdgeError(
      "protocol_error",
      `Cannot create session: the controller's answer has an invalid "features" (${problem}): expected a list of at most ${MAX_SESSION_FEATURES} names of 1 to ${MAX_FEATURE_CHARS} characters`,
    );
  }
  const listed = new Set(value as string[]);
  return new Set(EDGE_FEATURES.filter((name) => listed.has(name)));
}

function featuresProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return kindOf(value);
  if (value.length > MAX_SESSION_FEATURES) return `${value.length} entries`;
  const index = value.findIndex((name) => typeof name !== "string" || name.length === 0 || name.length > MAX_FEATURE_CHARS);
  if (index < 0) return undefined;
  const name: unknown = value[index];
  return typeof name === "string" ? `entry ${index} has ${name.length} characters` : `entry ${index} is ${kindOf(name)}`;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}
