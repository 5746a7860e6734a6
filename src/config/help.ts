// `--help` text, generated from the option table.

import { OPTIONS, envName, flagName, type OptionScope, type OptionSpec } from "./options.ts";

/** The options `command` reads: `common` ones, those of `scopes`, minus those only another command reads. */
export function optionsHelp(scopes: readonly OptionScope[], command?: string): string {
  const specs = OPTIONS.filter((s: OptionSpec) => (s.scope === "common" || scopes.includes(s.scope)) && (s.command === undefined || s.command === command));
  return `Options (flags override env, env overrides the config file):\n${specs.map(optionRow).join("\n")}`;
}

/** What the admin commands (job, runner, secret, plugin publish) use to reach the reference controller. */
export const CLIENT_OPTIONS = ["configFile", "dataDir", "controllerUrl", "caFile", "insecure", "adminToken", "adminTokenFile"] as const;

export function clientOptionsHelp(): string {
  const specs = CLIENT_OPTIONS.map((name) => OPTIONS.find((s) => s.name === name) as OptionSpec);
  return `Options to reach the controller (flags override env, env overrides the config file):\n${specs.map(optionRow).join("\n")}`;
}

function optionRow(spec: OptionSpec): string {
  const value = spec.type === "bool" ? "" : spec.type === "enum" ? ` <${(spec.values ?? []).join("|")}>` : ` <${spec.type}>`;
  const def = spec.default !== undefined ? ` (default: ${String(spec.default)})` : "";
  return `  ${flagName(spec)}${value}\n      ${spec.help}${def}\n      env: ${envName(spec)}`;
}

/** The markdown table for docs/configuration.md. */
export function optionsMarkdown(): string {
  const lines = ["| option | env | flag | default | help |", "| --- | --- | --- | --- | --- |"];
  for (const spec of OPTIONS) {
    const def = "default" in spec ? `\`${String(spec.default)}\`` : "";
    const values = spec.type === "enum" ? ` One of ${spec.values.map((v) => `\`${v}\``).join(", ")}.` : "";
    lines.push(`| \`${spec.name}\` | \`${envName(spec)}\` | \`${flagName(spec)}\` | ${def} | ${spec.help}${values} |`);
  }
  return lines.join("\n");
}
