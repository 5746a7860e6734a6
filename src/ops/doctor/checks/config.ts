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
    ctx.state.configSource = config.configFile === undefined ? "defaults and environment" : `"${config.configFile}"`;
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
