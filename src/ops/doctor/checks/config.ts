// Doctor check: the configuration resolves (file + env + flags) and names a runner and a key.

import { envName, OPTIONS } from "../../../config/options.ts";
import { resolveConfig } from "../../../config/resolve.ts";
import { errorMessage } from "../../../errors.ts";
import type { DoctorCheck } from "../check.ts";

export const configCheck: DoctorCheck = {
  id: "config",
  title: "config",
  needs: [],
  async run(ctx) {
    let resolved;
    try {
      resolved = resolveConfig({ scopes: ["runner"], argv: ctx.argv, env: ctx.env, readFile: ctx.readFile });
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: "correct the named option in the config file, its EDGE_RUNNER_* variable or flag (edge-runner run --help lists them)" };
    }
    const { config } = resolved;
    if (resolved.positionals.length > 0) {
      return { status: "fail", summary: `unexpected argument "${resolved.positionals[0]}"`, fix: "pass only options, e.g. --config-file /etc/edge-runner/config.json" };
    }
    ctx.state.config = config;
    ctx.state.configSource = configSources(ctx.argv, ctx.env, config.configFile);
    const env = (name: string) => envName(OPTIONS.find((s) => s.name === name)!);
    if (config.runnerId === undefined) {
      return { status: "fail", summary: `"runnerId" is not set`, fix: `set "runnerId" in the config file or ${env("runnerId")}` };
    }
    if (config.apiKey === undefined && config.apiKeyFile === undefined) {
      return { status: "fail", summary: `neither "apiKeyFile" nor "apiKey" is set`, fix: `set "apiKeyFile" to a file (mode 0600) that holds the runner's API key` };
    }
    const notes = config.apiKey !== undefined ? [`the API key comes from ${env("apiKey")} or a flag; prefer "apiKeyFile"`] : [];
    return { status: "pass", summary: `runner "${config.runnerId}" in group "${config.group}" from ${ctx.state.configSource}`, notes };
  },
};

/** Where the values came from, as a person would say it: `flags, environment and config file "…"`. */
export function configSources(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, configFile: string | undefined): string {
  const sources: string[] = [];
  if (argv.some((arg) => arg.startsWith("--"))) sources.push("flags");
  if (OPTIONS.some((spec) => (env[envName(spec)] ?? "") !== "")) sources.push("environment");
  if (configFile !== undefined) sources.push(`config file "${configFile}"`);
  if (sources.length === 0) return "defaults";
  return sources.length === 1 ? sources[0] as string : `${sources.slice(0, -1).join(", ")} and ${sources.at(-1)}`;
}
