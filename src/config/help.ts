// `--help` text, generated from the option table.

import { OPTIONS, envName, flagName, type OptionScope } from "./options.ts";

export function optionsHelp(scopes: readonly OptionScope[]): string {
  const rows = OPTIONS.filter((s) => s.scope === "common" || scopes.includes(s.scope)).map((spec) => {
    const value = spec.type === "bool" ? "" : spec.type === "enum" ? ` <${spec.values.join("|")}>` : ` <${spec.type}>`;
    const def = "default" in spec ? ` (default: ${String(spec.default)})` : "";
    return `  ${flagName(spec)}${value}\n      ${spec.help}${def}\n      env: ${envName(spec)}`;
  });
  return `Options (flags override env, env overrides the config file):\n${rows.join("\n")}`;
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
