// Asks the local runner whether jobs are running (GET /status), before `update` swaps the
// executable. Only "nothing listens on the port" counts as "no runner"; any other doubt is an
// error, so an update never happens under a job by accident.

import { connect } from "node:net";
import { EdgeError, errorMessage } from "../errors.ts";
import { readLimitedText } from "../util/read-limited.ts";

/** A runner's /status is a few KiB (running jobs, recent results); more is not a runner's status. */
export const MAX_STATUS_ANSWER_BYTES = 4 * 1024 * 1024;

export type RunnerActivity =
  | { kind: "not_running" }
  | { kind: "idle"; state: string }
  | { kind: "busy"; state: string; jobIds: string[] };

export interface RunnerActivityOptions {
  statusUrl: string;
  fetch?: typeof fetch;
  /** Per request; default 5 s. */
  timeoutMs?: number;
}

export async function runnerActivity(options: RunnerActivityOptions): Promise<RunnerActivity> {
  const url = new URL(options.statusUrl);
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!(await isListening(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || 80), timeoutMs))) return { kind: "not_running" };
  const target = `${options.statusUrl.replace(/\/+$/, "")}/status`;
  let body: unknown;
  try {
    const response = await (options.fetch ?? fetch)(target, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const text = await readLimitedText(response.body, {
      maxBytes: MAX_STATUS_ANSWER_BYTES,
      tooLarge: () => {
        throw new Error(`more than ${MAX_STATUS_ANSWER_BYTES} bytes`);
      },
    });
    body = JSON.parse(text);
  } catch (error) {
    throw new EdgeError("busy", `Cannot tell whether jobs are running: "${target}" answered ${errorMessage(error)}`);
  }
  const snapshot = body as { state?: unknown; running?: unknown };
  if (typeof snapshot.state !== "string" || !Array.isArray(snapshot.running)) {
    throw new EdgeError("busy", `Cannot tell whether jobs are running: "${target}" did not answer a runner status`);
  }
  // Only a string is a job id: String() of a deeply nested array recurses until the stack overflows.
  const jobIds = snapshot.running.map((job) => {
    const id = (job as { jobId?: unknown } | null)?.jobId;
    return typeof id === "string" ? id.slice(0, 200) : "?";
  });
  return jobIds.length === 0 ? { kind: "idle", state: snapshot.state } : { kind: "busy", state: snapshot.state, jobIds };
}

/** True when a TCP connection is accepted; false only on "connection refused". */
function isListening(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EdgeError("busy", `Cannot tell whether jobs are running: connecting to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ECONNREFUSED") resolve(false);
      else reject(new EdgeError("busy", `Cannot tell whether jobs are running: ${host}:${port}: ${error.message}`));
    });
  });
}
