// GitHub's limits on a workflow_dispatch's inputs, checked before the dispatch goes out: at most
// 25 inputs (10 before December 2025, and still on older GitHub Enterprise Servers, which answer
// 422 themselves) and 65,535 characters of inputs in all (meshcloud's runner documents this one for
// its omitRunObjectInput option). Over either, the job fails naming the inputs, rather than send a
// dispatch GitHub refuses with a terse 422, or cut a value to fit.

import { EdgeError } from "../../../errors.ts";

export const MAX_DISPATCH_INPUTS = 25;
export const MAX_DISPATCH_CHARS = 65_535;

/**
 * Throws `input_invalid` when `inputs` are over a limit. `explain(name)` may add what an input is
 * made of (the meshStack run object: its largest building block inputs) and how to shrink it.
 */
export function checkDispatchInputs(inputs: Readonly<Record<string, string>>, workflow: string, explain: (name: string) => string | undefined = () => undefined): void {
  const entries = Object.entries(inputs);
  if (entries.length > MAX_DISPATCH_INPUTS) {
    throw new EdgeError("input_invalid", `GitHub: cannot dispatch "${workflow}": it would get ${entries.length} inputs and a workflow_dispatch takes at most ${MAX_DISPATCH_INPUTS} (${entries.map(([k]) => `"${k}"`).join(", ")})`);
  }
  // Characters of names and values: what GitHub stores as the event's inputs.
  const total = entries.reduce((sum, [key, value]) => sum + key.length + value.length, 0);
  if (total <= MAX_DISPATCH_CHARS) return;
  const largest = entries.sort((a, b) => b[1].length - a[1].length).slice(0, 3);
  const named = largest.map(([key, value]) => `"${key}" (${value.length} characters)`).join(", ");
  const why = explain(largest[0]?.[0] ?? "");
  throw new EdgeError("input_invalid", `GitHub: cannot dispatch "${workflow}": its inputs take ${total} characters and GitHub takes at most ${MAX_DISPATCH_CHARS} in all; the largest: ${named}${why === undefined ? "" : `. ${why}`}`);
}
