// A building block input's value as text, the way meshcloud's Kotlin runners write it into a
// GitLab variable or input and an Azure DevOps template parameter: `value.toString()` on what
// Jackson parsed. A string stays as it is (a FILE's data: URL too); a list reads "[a, b]" and an
// object "{k=v, n=1}" (Java's collection and map texts, items unquoted); true/false; numbers as
// Java prints them. Pipelines written for meshcloud's runners parse exactly these texts, so a
// drop-in must not "improve" them into JSON.

/**
 * The value's text, or undefined for null/undefined: meshcloud's runner refuses a run whose input
 * has no value (Kotlin's non-null `value`); here the input is left out, so the pipeline's own
 * default applies.
 */
export function jvmText(value: unknown, depth = 0): string | undefined {
  if (value === null || value === undefined) return depth === 0 ? undefined : "null";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return javaNumber(value);
  // run-document.ts bounded the nesting of every input value before it got here.
  if (Array.isArray(value)) return `[${value.map((item) => jvmText(item, depth + 1)).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${jvmText(v, depth + 1)}`).join(", ")}}`;
  return String(value);
}

/**
 * Jackson reads a JSON integer as Integer/Long (printed as digits) and any other number as a
 * Double, which Java prints in scientific notation below 10^-3 and from 10^7 on ("1.0E7").
 * JSON.parse cannot tell 1.0 from 1, so a Double that holds a whole number reads as the integer.
 */
function javaNumber(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? BigInt(n).toString() : scientific(n);
  const abs = Math.abs(n);
  return abs >= 1e-3 && abs < 1e7 ? String(n) : scientific(n);
}

function scientific(n: number): string {
  const [mantissa = "", exponent = "0"] = n.toExponential().split("e");
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** A map of texts keyed by input keys, without a prototype (an input named "__proto__" stays an entry). */
export function textMap(entries: Record<string, string> = {}): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}
