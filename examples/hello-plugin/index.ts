// An example plugin: greets someone, with log lines, steps, named outputs, a secret, intermediate
// storage, fetch and cancellation, in the shape every plugin has: a default export of
// definePlugin({ name, version, actions }).
// Build, sign and try it: see README.md next to this file.

import { definePlugin, type ActionContext } from "../../src/plugins/sdk.ts";

interface GreetInput {
  name?: unknown;
  times?: unknown;
}

async function greet(input: unknown, ctx: ActionContext): Promise<{ greeting: string; jobId: string; attempt: number; stored: string[] }> {
  const { name = "world", times = 1 } = (input ?? {}) as GreetInput;
  if (typeof name !== "string" || name === "") throw new TypeError(`Cannot greet: input "name" must be a non-empty string`);
  const count = typeof times === "string" ? Number(times) : times;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 10) {
    throw new RangeError(`Cannot greet "${name}": input "times" must be an integer from 1 to 10`);
  }
  ctx.step({ id: "greet", name: "Greet", status: "running" });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    // Checking the signal between units of work is how an action honours cancel and timeout.
    ctx.signal.throwIfAborted();
    lines.push(`Hello, ${name}!`);
    ctx.log.info(`Greeting ${i + 1} of ${count}`);
  }
  ctx.step({ id: "greet", name: "Greet", status: "succeeded" });
  // Named outputs are merged into the job's output, and kept even if a later step fails.
  ctx.outputs.set("count", count);
  // Intermediate data lives for this job attempt only; the runner deletes it when the job ends.
  await ctx.storage.put("greeting.txt", lines.join("\n"));
  return { greeting: lines.join(" "), jobId: ctx.jobId, attempt: ctx.attempt, stored: await ctx.storage.list() };
}

/** Calls a URL with a bearer token from the job's secrets; the token never appears in a log. */
async function ping(input: unknown, ctx: ActionContext): Promise<{ status: number }> {
  const { url, tokenRef = "ping/token" } = (input ?? {}) as { url?: unknown; tokenRef?: unknown };
  if (typeof url !== "string" || !/^https?:\/\//.test(url)) throw new TypeError(`Cannot ping: input "url" must be an http(s) URL`);
  const token = await ctx.secrets.get(String(tokenRef));
  ctx.log.info(`Pinging ${url} with token ${token}`); // printed as [REDACTED]
  // ctx.fetch is aborted with the job (cancel or timeout).
  const response = await ctx.fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return { status: response.status };
}

export default definePlugin({
  name: "hello",
  version: "1.0.0",
  actions: {
    greet,
    ping,
    /** Echoes its input back: handy to check a runner end to end. */
    echo: async (input, ctx) => {
      ctx.log.debug("echo called");
      return input;
    },
  },
});
