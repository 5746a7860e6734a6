// `plugin run`: one action of a local bundle in a real plugin worker, without a controller, for
// plugin authors. The bundle is the author's own build, so it is run without a signature check.

import { resolve } from "node:path";
import { parseDuration } from "../../config/duration.ts";
import { EdgeError, errorMessage } from "../../errors.ts";
import { Logger } from "../../log/logger.ts";
import { PluginPool } from "../../plugins/pool.ts";
import { PoolPolicy } from "../../plugins/pool-policy.ts";
import { builtinSource, fileBundleSource } from "../../plugins/plugin-ref.ts";
import { parseCommandArgs, requireFlag, stringFlag, UsageError } from "../cli-args.ts";
import { readTextFileBounded } from "../../util/read-file-bounded.ts";

export const RUN_USAGE = `  run <bundle.mjs> --action A [--input k=v …] [--input-json JSON] [--secret ref=value …] [--timeout 60s] [--name N --version V] [--isolation thread|process]
      Run one action in a plugin worker and print its output as JSON. Name and version come from
      the manifest next to the bundle unless given; --secret answers ctx.secrets.get(ref);
      --isolation process runs the plugin host as a child process, as a runner's policy can.
`;

export async function runPluginLocally(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    action: { type: "string" }, input: { type: "string", multiple: true }, "input-json": { type: "string" },
    timeout: { type: "string" }, secret: { type: "string", multiple: true }, name: { type: "string" }, version: { type: "string" }, "job-id": { type: "string" },
    isolation: { type: "string" },
  });
  const [bundle, extra] = parsed.positionals;
  if (bundle === undefined) throw new UsageError("Cannot run plugin: bundle file missing");
  if (extra !== undefined) throw new UsageError(`Cannot run plugin: unexpected argument "${extra}"`);
  const action = requireFlag(parsed.values, "action", "run plugin");
  const input = parseInput(stringFlag(parsed.values, "input-json"), parsed.values.input);
  const secrets: Record<string, string> = {};
  for (const pair of Array.isArray(parsed.values.secret) ? (parsed.values.secret as string[]) : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`Cannot run plugin: --secret "${pair.slice(0, 40)}" is not ref=value`);
    secrets[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const timeoutText = stringFlag(parsed.values, "timeout") ?? "60s";
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`Cannot run plugin: --timeout "${timeoutText}" is not a duration`);
  const { name, version } = await pluginIdentity(bundle, stringFlag(parsed.values, "name"), stringFlag(parsed.values, "version"));
  if (builtinSource({ name }) !== undefined) {
    throw new EdgeError("input_invalid", `Cannot run plugin "${name}": a built-in plugin has that name and would shadow the bundle; rename it`);
  }

  const logger = new Logger({ level: "warn" });
  const path = resolve(bundle);
  const isolation = stringFlag(parsed.values, "isolation") ?? "thread";
  if (isolation !== "thread" && isolation !== "process") throw new UsageError(`Cannot run plugin: --isolation "${isolation}" must be "thread" or "process"`);
  const policy = new PoolPolicy({ maxWorkers: 1, maxJobsPerWorker: 1000, idleMs: 1000, prewarm: 0, isolation });
  const pool = new PluginPool({ idleMs: 1000, logger, policy, resolve: () => fileBundleSource(path, name, version) });
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  try {
    const outcome = await pool.run({
      jobId: stringFlag(parsed.values, "job-id") ?? `local-${Date.now()}`,
      attempt: 1,
      plugin: `${name}@${version}`,
      action,
      input,
      timeoutMs,
      signal: controller.signal,
      secrets,
      onLog: (line) => process.stderr.write(`${new Date(line.ts).toISOString().slice(11, 23)} ${line.level.toUpperCase().padEnd(5)} ${line.msg}\n`),
      onStep: (step) => process.stderr.write(`step ${step.id}${step.name === undefined ? "" : ` (${step.name})`}: ${step.status}${step.message === undefined ? "" : ` ${step.message}`}\n`),
    });
    if (outcome.status === "succeeded") {
      process.stdout.write(JSON.stringify(outcome.output ?? null, null, 2) + "\n");
      return 0;
    }
    process.stderr.write(`Action "${action}" of "${name}@${version}" ${outcome.status}: ${outcome.error?.code ?? ""}: ${outcome.error?.message ?? ""}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    await pool.close();
  }
}

function parseInput(json: string | undefined, pairs: unknown): Record<string, unknown> {
  let input: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (error) {
      throw new UsageError(`Cannot run plugin: --input-json is not JSON (${errorMessage(error)})`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError("Cannot run plugin: --input-json must be a JSON object");
    input = parsed as Record<string, unknown>;
  }
  for (const pair of Array.isArray(pairs) ? (pairs as string[]) : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`Cannot run plugin: --input "${pair}" is not key=value`);
    input[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return input;
}

async function pluginIdentity(bundle: string, name: string | undefined, version: string | undefined): Promise<{ name: string; version: string }> {
  if (name !== undefined && version !== undefined) return { name, version };
  const manifestPath = bundle.replace(/\.m?js$/, "") + ".manifest.json";
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(await readTextFileBounded(manifestPath, 1024 * 1024)) as typeof manifest;
  } catch (error) {
    throw new UsageError(`Cannot run plugin "${bundle}": no readable manifest "${manifestPath}" (${errorMessage(error)}); pass --name and --version`);
  }
  const n = name ?? manifest.name, v = version ?? manifest.version;
  if (typeof n !== "string" || typeof v !== "string") throw new UsageError(`Cannot run plugin "${bundle}": manifest "${manifestPath}" has no name or version`);
  return { name: n, version: v };
}
