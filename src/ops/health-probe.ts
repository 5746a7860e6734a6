// The probe behind `edge-runner healthcheck`: one GET of /healthz or /readyz, or polling until it
// answers 200 (systemd's ExecStartPost waits on this before the unit counts as started).

import { errorMessage } from "../errors.ts";
import { readLimitedText } from "../util/read-limited.ts";
import { realTimers, type Timers } from "../util/time.ts";

/** /healthz and /readyz answer a line or two; a larger answer is no health answer. */
export const MAX_PROBE_ANSWER_BYTES = 64 * 1024;

export type ProbeResult = { ok: true; status: number; body: string } | { ok: false; status?: number; reason: string };

export interface ProbeOptions {
  url: string;
  fetch?: typeof fetch;
  /** Per request; default 2 s. */
  requestTimeoutMs?: number;
}

export async function probeOnce(options: ProbeOptions): Promise<ProbeResult> {
  try {
    const response = await (options.fetch ?? fetch)(options.url, { signal: AbortSignal.timeout(options.requestTimeoutMs ?? 2000) });
    const text = await readLimitedText(response.body, {
      maxBytes: MAX_PROBE_ANSWER_BYTES,
      tooLarge: () => {
        throw new Error(`HTTP ${response.status} with an answer larger than ${MAX_PROBE_ANSWER_BYTES} bytes`);
      },
    });
    const body = text.slice(0, 2000);
    if (response.status === 200) return { ok: true, status: 200, body };
    return { ok: false, status: response.status, reason: `HTTP ${response.status}${body === "" ? "" : `: ${body.trim().slice(0, 200)}`}` };
  } catch (error) {
    return { ok: false, reason: errorMessage(error) };
  }
}

export interface WaitOptions extends ProbeOptions {
  timeoutMs: number;
  /** Pause between probes; default 500 ms. */
  intervalMs?: number;
  timers?: Pick<Timers, "now" | "sleep">;
  signal?: AbortSignal;
}

/** Probes until 200 or until `timeoutMs` has passed; resolves to the last result. */
export async function waitUntilHealthy(options: WaitOptions): Promise<ProbeResult> {
  const timers = options.timers ?? realTimers;
  const deadline = timers.now() + options.timeoutMs;
  for (;;) {
    const result = await probeOnce(options);
    if (result.ok || options.signal?.aborted === true) return result;
    if (timers.now() + (options.intervalMs ?? 500) > deadline) return result;
    await timers.sleep(options.intervalMs ?? 500, options.signal);
  }
}
