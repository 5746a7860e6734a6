// Config is a pure function of file + environment + flags (later wins) that returns a frozen,
// fully resolved object, or throws a ConfigError naming the field before anything touches the
// network.

import { EdgeError, errorMessage } from "../errors.ts";
import { OPTIONS, envName, flagName, type OptionScope, type OptionSpec } from "./options.ts";
import { parseDuration } from "./duration.ts";
import { UsageError, unknownFlag } from "./usage-error.ts";
import { normalizeHttpUrl, plainHttpRefusal, publicUrl } from "./url.ts";
import { jsonSyntaxProblem } from "../util/json-syntax.ts";
import { jsonPreview } from "../util/json-bounds.ts";

type Spec = (typeof OPTIONS)[number];
type ValueOf<S extends Spec> = S["type"] extends "int" | "duration"
  ? number
  : S["type"] extends "urls" | "names"
    ? readonly string[]
    : S["type"] extends "bool"
    ? boolean
    : S extends { values: readonly (infer V)[] }
      ? V
      : string;
type HasDefault<S extends Spec> = S extends { default: unknown } ? S["name"] : never;

/** Every option, typed: options with a default are always present. */
export type Config = Readonly<
  { [S in Spec as HasDefault<S>]: ValueOf<S> } & { [S in Spec as Exclude<S["name"], HasDefault<S>>]?: ValueOf<S> }
>;

/** Exit status for a configuration error (sysexits.h EX_CONFIG). */
export const EX_CONFIG = 78;

export class ConfigError extends EdgeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super("config_invalid", message);
    this.name = "ConfigError";
    this.field = field;
  }
}

export interface ResolveOptions {
  /** Which command is resolving; it sees `common` options plus its own scopes. */
  scopes: readonly OptionScope[];
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; injected so the function stays pure and testable. */
  readFile?: (path: string) => string;
  /** A command's own flags (taken out before), only so an unknown flag can be matched to them. */
  ownFlags?: readonly string[];
}

export interface Resolved {
  config: Config;
  /** Arguments that are not options (sub-commands, positional values). */
  positionals: string[];
  /** Flags of secret options (apiKey, adminToken) given on the command line, which any local user can read. */
  secretFlags: string[];
}

export function resolveConfig(options: ResolveOptions): Resolved {
  const specs = OPTIONS.filter((s) => s.scope === "common" || options.scopes.includes(s.scope));
  const { flags, positionals } = parseFlags(options.argv, specs, options.ownFlags ?? []);

  const raw = new Map<string, { value: unknown; source: string }>();
  for (const spec of specs) {
    if ("default" in spec) raw.set(spec.name, { value: spec.default, source: "default" });
  }

  const configFile = flags.get("configFile") ?? options.env[envName(byName("configFile"))];
  if (configFile !== undefined && configFile !== "") {
    for (const [key, value] of Object.entries(readConfigFile(configFile, options.readFile))) {
      const spec = specs.find((s) => s.name === key);
      if (spec === undefined) {
        const known = specs.map((s) => s.name).join(", ");
        throw new ConfigError(key, `Cannot read config file "${configFile}": unknown option "${key}" (known: ${known})`);
      }
      raw.set(key, { value, source: `config file "${configFile}"` });
    }
  }
  for (const spec of specs) {
    const value = options.env[envName(spec)];
    if (value !== undefined && value !== "") raw.set(spec.name, { value, source: envName(spec) });
  }
  for (const [name, value] of flags) raw.set(name, { value, source: flagName(byName(name)) });

  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const entry = raw.get(spec.name);
    if (entry !== undefined) out[spec.name] = coerce(spec, entry.value, entry.source);
  }
  checkCrossField(out);
  const secretFlags = [...flags.keys()].map(byName).filter((spec) => spec.secret === true).map(flagName);
  return { config: Object.freeze(out) as Config, positionals, secretFlags };
}

function byName(name: string): OptionSpec {
  const spec = OPTIONS.find((s) => s.name === name);
  if (spec === undefined) throw new TypeError(`Unknown option "${name}"`);
  return spec;
}

function parseFlags(argv: readonly string[], specs: readonly OptionSpec[], ownFlags: readonly string[]) {
  const flags = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const negated = flag.startsWith("--no-") ? "--" + flag.slice(5) : undefined;
    const spec = specs.find((s) => flagName(s) === flag) ?? specs.find((s) => s.type === "bool" && flagName(s) === negated);
    if (spec === undefined) {
      throw unknownFlag(flag, [...specs.map(flagName), ...ownFlags]);
    }
    if (spec.type === "bool" && eq === -1) {
      flags.set(spec.name, negated === undefined ? "true" : "false");
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`Option "${flag}" needs a value`, flag);
    flags.set(spec.name, value);
  }
  return { flags, positionals };
}

function readConfigFile(path: string, readFile: ((path: string) => string) | undefined): Record<string, unknown> {
  if (readFile === undefined) throw new ConfigError("configFile", `Cannot read config file "${path}": no file reader`);
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError("configFile", `Cannot read config file "${path}": ${errorMessage(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // Never the parser's own message: it quotes the file, which may hold apiKey or adminToken.
    throw new ConfigError("configFile", `Cannot parse config file "${path}" as JSON: ${jsonSyntaxProblem(error, text)}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError("configFile", `Cannot read config file "${path}": expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function coerce(spec: OptionSpec, value: unknown, source: string): unknown {
  const fail = (expected: string): never => {
    const shown = spec.secret ? "(hidden)" : jsonPreview(value);
    throw new ConfigError(spec.name, `Invalid value ${shown} for "${spec.name}" from ${source}: expected ${expected}`);
  };
  switch (spec.type) {
    case "int": {
      const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      const range = `an integer from ${spec.min ?? "-∞"} to ${spec.max ?? "∞"}`;
      if (!Number.isSafeInteger(n)) return fail(range);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return fail(range);
      return n;
    }
    case "duration": {
      const ms = typeof value === "number" ? value : typeof value === "string" ? parseDuration(value) : undefined;
      if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) return fail('a duration such as "500ms", "30s", "5m", "1h" or milliseconds');
      if ((spec.min !== undefined && ms < spec.min) || (spec.max !== undefined && ms > spec.max)) return fail(`a duration from ${spec.min ?? 0} ms to ${spec.max ?? "∞"} ms`);
      return ms;
    }
    case "bool": {
      if (typeof value === "boolean") return value;
      // Only text or a number can spell a boolean (String() of an object from a file can throw).
      const text = typeof value === "string" || typeof value === "number" ? String(value).toLowerCase() : "";
      if (["true", "1", "yes", "on"].includes(text)) return true;
      if (["false", "0", "no", "off"].includes(text)) return false;
      return fail("true or false");
    }
    case "enum": {
      if (typeof value !== "string" || !spec.values?.includes(value)) return fail(`one of ${spec.values?.map((v) => `"${v}"`).join(", ")}`);
      return value;
    }
    case "url": {
      // Only the normalized form is kept: every later check and use sees the same spelling.
      const url = typeof value === "string" ? normalizeHttpUrl(value) : undefined;
      return url ?? fail("an absolute http:// or https:// URL");
    }
    case "urls":
      return coerceUrlList(spec, value, source);
    case "names": {
      // A list of names: a JSON array (config file) or comma-separated text (env, flag, file).
      const entries = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
      const names = entries?.map((entry: unknown) => (typeof entry === "string" ? entry.trim() : entry)).filter((entry: unknown) => entry !== "");
      const max = spec.max ?? 256;
      if (names === undefined || names.length === 0 || names.length > max || names.some((name: unknown) => typeof name !== "string" || name.length > 256)) {
        return fail(`1 to ${max} names, comma-separated or a JSON array of strings`);
      }
      return Object.freeze([...new Set(names as string[])]);
    }
    case "host":
    case "path":
    case "string": {
      if (typeof value !== "string" || value.trim() === "") return fail("a non-empty string");
      if (spec.type === "host" && /[\s/]/.test(value)) return fail("a host name or IP address");
      return value;
    }
  }
}

/**
 * An ordered list of URLs: a JSON array (config file) or comma-separated text (env, flag, file).
 * Each entry passes the one URL rule; a bounded count, no duplicates (after normalizing), and the
 * error names the entry's index.
 */
function coerceUrlList(spec: OptionSpec, value: unknown, source: string): readonly string[] {
  const entries = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  const max = spec.max ?? 16;
  if (entries === undefined || entries.length === 0) {
    throw new ConfigError(spec.name, `Invalid value ${jsonPreview(value)} for "${spec.name}" from ${source}: expected a URL, a comma-separated list of URLs or a JSON array of them`);
  }
  if (entries.length > max) {
    throw new ConfigError(spec.name, `Invalid value for "${spec.name}" from ${source}: ${entries.length} URLs, expected at most ${max}`);
  }
  const urls: string[] = [];
  entries.forEach((entry: unknown, index) => {
    const url = typeof entry === "string" ? normalizeHttpUrl(entry.trim()) : undefined;
    // A single URL keeps the plain field name; in a list the entry's index is named.
    const field = entries.length === 1 ? spec.name : `${spec.name}[${index}]`;
    const shown = jsonPreview(typeof entry === "string" ? shownUrl(entry.trim()) : entry);
    if (url === undefined) {
      throw new ConfigError(field, `Invalid value ${shown} for "${field}" from ${source}: expected an absolute http:// or https:// URL`);
    }
    if (urls.includes(url)) {
      throw new ConfigError(field, `Invalid value ${shown} for "${field}" from ${source}: the same URL as entry ${urls.indexOf(url)}`);
    }
    urls.push(url);
  });
  return Object.freeze(urls);
}

/** A URL as an error may show it: without credentials, query or fragment, even when it does not parse. */
function shownUrl(text: string): string {
  const parsed = publicUrl(text);
  return parsed !== "(invalid URL)" ? parsed : text.replace(/^([^/]*\/\/)?[^/@]*@/, "$1…@").replace(/[?#].*$/, "").slice(0, 200);
}

/** The first of the controller URLs: the one admin commands talk to. */
export function primaryControllerUrl(config: Pick<Config, "controllerUrl">): string {
  return config.controllerUrl[0] as string;
}

function checkCrossField(out: Record<string, unknown>): void {
  const urls = Array.isArray(out.controllerUrl) ? (out.controllerUrl as string[]) : [];
  urls.forEach((url, index) => {
    const refusal = plainHttpRefusal(url, out.insecure === true);
    if (refusal !== undefined) throw new ConfigError(urls.length === 1 ? "controllerUrl" : `controllerUrl[${index}]`, refusal);
  });
  if (out.apiKey !== undefined && out.apiKeyFile !== undefined) {
    throw new ConfigError("apiKey", `Options "apiKey" and "apiKeyFile" exclude each other: set one`);
  }
  const hb = out.heartbeatIntervalMs, ttl = out.leaseTtlMs;
  if (typeof hb === "number" && typeof ttl === "number" && hb >= ttl) {
    throw new ConfigError("heartbeatIntervalMs", `Invalid value ${hb} for "heartbeatIntervalMs": expected less than leaseTtlMs (${ttl})`);
  }
  const min = out.reconnectMinMs, max = out.reconnectMaxMs;
  if (typeof min === "number" && typeof max === "number" && min > max) {
    throw new ConfigError("reconnectMinMs", `Invalid value ${min} for "reconnectMinMs": expected at most reconnectMaxMs (${max})`);
  }
}
