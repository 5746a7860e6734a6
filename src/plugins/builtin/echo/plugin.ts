// Built-in "echo": returns its input. Its `sleep`, `fail` and `secret` actions make drains,
// cancels, failures and secret masking easy to try without a real automation behind them.

import { EdgeError } from "../../../errors.ts";
import { MAX_TIMER_MS } from "../../../util/time.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { cutNoteFirst } from "../quoted-value.ts";

const LOGGED_INPUT_MAX = 2048;

export default definePlugin({
  name: "echo",
  version: "1.0.0",
  actions: {
    default(input, ctx) {
      ctx.step({ id: "echo", name: "Echo input", status: "running" });
      ctx.log.info(`Echo: ${preview(input)}`);
      ctx.step({ id: "echo", name: "Echo input", status: "succeeded" });
      return input;
    },
    sleep(input, ctx) {
      const ms = (input as { ms?: unknown } | null)?.ms;
      // Past MAX_TIMER_MS the timer would fire after 1 ms: "sleep 35 days" would succeed at once.
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
        throw new EdgeError("input_invalid", `Cannot run echo action "sleep": "ms" must be a number from 0 to ${MAX_TIMER_MS}, got ${preview(ms)}`);
      }
      return sleep(ms, ctx);
    },
    // Resolves a secret by reference and returns only its length. It logs the value on purpose:
    // the line reaches the controller as "[REDACTED]", which shows (and tests) the masking.
    async secret(input, ctx) {
      const ref = (input as { ref?: unknown } | null)?.ref;
      if (typeof ref !== "string" || ref === "") throw new EdgeError("input_invalid", `Cannot run echo action "secret": "ref" must be a secret name`);
      const value = await ctx.secrets.get(ref);
      ctx.log.info(`Secret "${ref}" is ${value}`);
      return { ref, length: value.length };
    },
    fail(input) {
      const message = (input as { message?: unknown } | null)?.message;
      throw new EdgeError("plugin_error", typeof message === "string" && message !== "" ? message : "Echo failed as asked");
    },
  },
});

function sleep(ms: number, ctx: ActionContext): Promise<{ sleptMs: number }> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) return reject(new EdgeError("job_cancelled", "Echo sleep cancelled"));
    const timer = setTimeout(() => {
      ctx.signal.removeEventListener("abort", onAbort);
      resolve({ sleptMs: ms });
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(new EdgeError("job_cancelled", "Echo sleep cancelled"));
    }
    ctx.signal.addEventListener("abort", onAbort, { once: true });
  });
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return cutNoteFirst(text, LOGGED_INPUT_MAX);
}
