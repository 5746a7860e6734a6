// Bounds on a parsed JSON value before anything keeps it: how deep it nests and roughly how many
// bytes it serializes to. Walked with an explicit stack, never recursion, so a value nested
// 40,000 levels deep (which JSON.parse accepts and Bun's JSON.stringify cannot write back) is
// measured without overflowing the call stack.

export interface JsonBounds {
  /** Deepest nesting of arrays and objects allowed (a scalar is depth 0, `[]` is depth 1). */
  maxDepth: number;
  /** Largest serialized size allowed, in bytes (estimated from the walk, without stringifying). */
  maxBytes: number;
}

/** What the controller accepts in a job's input or output, and in any stored JSON value. */
export const STORED_JSON_BOUNDS: JsonBounds = { maxDepth: 64, maxBytes: 1024 * 1024 };

export type JsonBoundsProblem = { kind: "depth"; limit: number } | { kind: "size"; limit: number } | { kind: "type"; detail: string };

/** The first bound `value` breaks, or undefined when it is within both. */
export function checkJsonBounds(value: unknown, bounds: JsonBounds): JsonBoundsProblem | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let bytes = 0;
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop() as { value: unknown; depth: number };
    if (v === null || typeof v === "boolean") bytes += 5;
    else if (typeof v === "number") bytes += 24;
    else if (typeof v === "string") bytes += v.length + 2;
    else if (typeof v === "object") {
      if (depth + 1 > bounds.maxDepth) return { kind: "depth", limit: bounds.maxDepth };
      bytes += 2;
      if (Array.isArray(v)) {
        for (const item of v) {
          bytes += 1;
          stack.push({ value: item, depth: depth + 1 });
        }
      } else {
        for (const key of Object.keys(v)) {
          bytes += key.length + 4;
          stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1 });
        }
      }
    } else if (v !== undefined) return { kind: "type", detail: typeof v };
    if (bytes > bounds.maxBytes) return { kind: "size", limit: bounds.maxBytes };
  }
  return undefined;
}

/**
 * Whether `value` nests arrays and objects deeper than `maxDepth` (same depth as checkJsonBounds:
 * `{}` is 1). For the check on every protocol message, where the size bound does not apply: it
 * allocates nothing per node and stops at the first level past the bound, so its recursion is at
 * most `maxDepth` + 1 frames deep whatever the value (keep `maxDepth` small, as MAX_MESSAGE_DEPTH is).
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (maxDepth <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], maxDepth - 1)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) if (nestsDeeperThan(record[key], maxDepth - 1)) return true;
  return false;
}

/** A sentence naming `field` and the bound it breaks, for a 400 or an `error` frame. */
export function describeJsonProblem(field: string, problem: JsonBoundsProblem): string {
  if (problem.kind === "depth") return `"${field}" nests deeper than ${problem.limit} levels`;
  if (problem.kind === "size") return `"${field}" is larger than ${problem.limit} bytes of JSON`;
  return `"${field}" holds a ${problem.detail}, which is not JSON`;
}

/**
 * `value` as JSON for an error message, cut to `max` characters: a value from a file or a peer
 * can be megabytes, or nested past what JSON.stringify can write (it would throw instead).
 */
export function jsonPreview(value: unknown, max = 80): string {
  if (nestsDeeperThan(value, 32)) return "(a value nested deeper than 32 levels)";
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return `(${typeof value})`;
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
