// Process-per-job baseline: a fresh process that loads the built-in echo plugin, runs its
// default action once, and prints the log line (then the output) to stdout, as a process-per-job
// runner would have to for every job. Run by scripts/bench/fresh-process-bench.ts.

import echo from "../../src/plugins/builtin/echo/plugin.ts";
import type { ActionContext } from "../../src/plugins/sdk.ts";

const out = (text: string) => void process.stdout.write(`${text}\n`);
const unused = (what: string) => () => {
  throw new Error(`Cannot use ${what} in the process-per-job baseline: echo does not need it`);
};
const action = echo.actions.default;
if (action === undefined) throw new Error("Cannot run echo: it has no default action");
// Only what echo's default action touches is real; the rest fails loudly if that ever changes.
const context: ActionContext = {
  jobId: "fresh",
  attempt: 1,
  signal: new AbortController().signal,
  log: { debug: out, info: out, warn: out, error: out },
  step: () => undefined,
  outputs: { set: unused("outputs"), all: unused("outputs") },
  secrets: { get: unused("secrets"), mask: unused("secrets") },
  storage: { put: unused("storage"), get: unused("storage"), getText: unused("storage"), getStream: unused("storage"), head: unused("storage"), delete: unused("storage"), list: unused("storage") },
  artifacts: { maxBytes: 0, put: unused("artifacts") },
  fetch: unused("fetch"),
};
const output = await action({ fresh: true }, context);
out(JSON.stringify(output));
