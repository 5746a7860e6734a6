// Argument parsing shared by `keygen` and `plugin …`: node:util parseArgs (same on Bun, Deno and
// Node) with usage errors that name the flag, plus the common --data-dir/--config-file options
// resolved through the one option table.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { resolveConfig, type Config } from "../config/resolve.ts";
import { errorMessage } from "../errors.ts";
import { UsageError, unknownFlag } from "../config/usage-error.ts";
import { readConfigText } from "../config/read-config-text.ts";

export { UsageError };

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command here accepts, passed on to resolveConfig. */
const COMMON: Options = {
  "data-dir": { type: "string" },
  "config-file": { type: "string" },
  help: { type: "boolean", short: "h" },
};

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(args: string[], options: Options): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (error) {
    // node:util words it "Unknown option '--x'. …"; say it as every command does, with a suggestion.
    const unknown = /^Unknown option '(--?[^']+)'/.exec(errorMessage(error));
    if (unknown !== null) throw unknownFlag(unknown[1] as string, Object.keys({ ...COMMON, ...options }).map((name) => `--${name}`));
    throw new UsageError(errorMessage(error));
  }
}

/** The resolved common config (dataDir …) from env, config file and the common flags. */
export function commonConfig(values: ParsedArgs["values"]): Config {
  const argv: string[] = [];
  if (typeof values["data-dir"] === "string") argv.push("--data-dir", values["data-dir"]);
  if (typeof values["config-file"] === "string") argv.push("--config-file", values["config-file"]);
  return resolveConfig({ scopes: [], argv, env: process.env, readFile: readConfigText }).config;
}

export function stringFlag(values: ParsedArgs["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function requireFlag(values: ParsedArgs["values"], name: string, action: string): string {
  const value = stringFlag(values, name);
  if (value === undefined || value === "") throw new UsageError(`Cannot ${action}: option "--${name}" is required`);
  return value;
}
