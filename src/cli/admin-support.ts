// Glue shared by the `job` and `runner` admin commands: their own flags split from the config
// flags, the admin client built from config, tables for humans, and API errors to exit codes.

import * as fs from "node:fs";
import { controllerClient } from "../platform/controller-client.ts";
import { readCaBundle } from "../config/ca-bundle.ts";
import * as path from "node:path";
import { resolveConfig, ConfigError, primaryControllerUrl, type Config } from "../config/resolve.ts";
import { AdminApiError, AdminClient } from "./http-client.ts";
import { EXIT } from "./command.ts";
import { readSecretFile } from "../config/secret-file.ts";
import { UsageError } from "../config/usage-error.ts";
import { readConfigText } from "../config/read-config-text.ts";

/** A command's own flags: `value` takes an argument, `bool` does not. */
export type FlagSpec = Record<string, "value" | "bool">;

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
  config: Config;
}

/** Takes the command's own flags out of `args`; the rest go through the one option table. */
export function parseCommandArgs(args: readonly string[], own: FlagSpec): ParsedArgs {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const kind = own[name];
    if (kind === undefined) {
      rest.push(arg);
      continue;
    }
    if (kind === "bool") {
      flags.set(name, true);
      continue;
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`Option "${name}" needs a value`, name);
    flags.set(name, value);
  }
  const { config, positionals } = resolveConfig({
    scopes: ["runner", "controller"],
    argv: rest,
    env: process.env,
    readFile: readConfigText,
    ownFlags: Object.keys(own).filter((f) => f.startsWith("--")),
  });
  return { flags, positionals, config };
}

/** The admin token from --admin-token, --admin-token-file, or the controller's data dir. */
export function resolveAdminToken(config: Config): string {
  if (config.adminToken !== undefined && config.adminTokenFile !== undefined) {
    throw new ConfigError("adminToken", `Options "adminToken" and "adminTokenFile" exclude each other: set one`);
  }
  if (config.adminToken !== undefined) return config.adminToken;
  if (config.adminTokenFile !== undefined) return readSecretFile(config.adminTokenFile, "adminTokenFile");
  const file = path.join(config.dataDir, "controller", "admin-token");
  if (fs.existsSync(file)) return readSecretFile(file, "adminTokenFile");
  throw new ConfigError(
    "adminToken",
    `No admin token: pass --admin-token-file (or --admin-token), or --data-dir of the controller (looked for "${file}")`,
  );
}

/** The admin API client; with `caFile` it trusts that CA for a controller behind private TLS. */
export function adminClient(config: Config): AdminClient {
  const options = { baseUrl: primaryControllerUrl(config), adminToken: resolveAdminToken(config) };
  if (config.caFile === undefined) return new AdminClient(options);
  const client = controllerClient({ caPem: readCaBundle(config.caFile, "caFile"), caFile: config.caFile });
  return new AdminClient({ ...options, fetch: ((input: string | URL | Request, init?: RequestInit) => client.fetch(String(input), init)) as typeof fetch });
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

export function fail(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

export function time(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

/** Runs a sub-command body, turning admin API errors into a message and an exit code. */
export async function withApiErrors(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof AdminApiError)) throw error;
    fail(`edge-runner ${command}: ${error.message}`);
    if (error.status === 0) return EXIT.unavailable;
    return EXIT.failure;
  }
}
