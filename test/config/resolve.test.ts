import { describe, expect, test } from "bun:test";
import { ConfigError, resolveConfig, type ResolveOptions } from "../../src/config/resolve.ts";
import { OPTIONS, envName, flagName } from "../../src/config/options.ts";
import { optionsHelp, optionsMarkdown } from "../../src/config/help.ts";
import { parseDuration } from "../../src/config/duration.ts";
import { UsageError } from "../../src/config/usage-error.ts";
import { configFails } from "../helpers/config-errors.ts";

const base: ResolveOptions = { scopes: ["runner", "controller"], argv: [], env: {} };

const fails = (options: Partial<ResolveOptions>) => configFails({ ...base, ...options });

describe("resolveConfig()", () => {
  test("resolveConfig() fills every default and freezes the result", () => {
    const { config } = resolveConfig(base);
    for (const spec of OPTIONS) {
      if ("default" in spec) expect(config).toHaveProperty(spec.name);
    }
    expect(config.drainTimeoutMs).toBe(60_000);
    expect(config.statusHost).toBe("127.0.0.1");
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("resolveConfig() lets env override the file and flags override env", () => {
    const files: Record<string, string> = { "/etc/er.json": JSON.stringify({ concurrency: 2, group: "from-file", logLevel: "warn" }) };
    const { config } = resolveConfig({
      ...base,
      argv: ["--config-file", "/etc/er.json", "--concurrency=9"],
      env: { EDGE_RUNNER_CONCURRENCY: "5", EDGE_RUNNER_GROUP: "from-env" },
      readFile: (p) => files[p] ?? "",
    });
    expect(config.concurrency).toBe(9);
    expect(config.group).toBe("from-env");
    expect(config.logLevel).toBe("warn");
  });

  test("resolveConfig() parses durations, booleans and --no- flags", () => {
    const { config } = resolveConfig({ ...base, argv: ["--drain-timeout", "2m30s", "--insecure", "--no-insecure", "--lease-ttl=45s"] });
    expect(config.drainTimeoutMs).toBe(150_000);
    expect(config.insecure).toBe(false);
    expect(config.leaseTtlMs).toBe(45_000);
  });

  test("resolveConfig() returns positionals and honours --", () => {
    const { positionals } = resolveConfig({ ...base, argv: ["submit", "echo", "--group", "g", "--", "--not-a-flag"] });
    expect(positionals).toEqual(["submit", "echo", "--not-a-flag"]);
  });

  const bad: Array<[string, Partial<ResolveOptions>, string]> = [
    ["concurrency", { argv: ["--concurrency", "0"] }, "an integer from 1 to 1024"],
    ["concurrency", { argv: ["--concurrency", "2.5"] }, "an integer"],
    ["concurrency", { env: { EDGE_RUNNER_CONCURRENCY: "many" } }, "EDGE_RUNNER_CONCURRENCY"],
    ["statusPort", { argv: ["--status-port", "70000"] }, "0 to 65535"],
    ["listenPort", { argv: ["--listen-port", "-1"] }, "0 to 65535"],
    ["maxAttempts", { argv: ["--max-attempts", "0"] }, "1 to 100"],
    ["drainTimeoutMs", { argv: ["--drain-timeout", "soon"] }, "a duration"],
    ["jobTimeoutMs", { env: { EDGE_RUNNER_JOB_TIMEOUT: "-5s" } }, "a duration"],
    ["prefetch", { argv: ["--prefetch", "-1"] }, "0 to 1024"],
    ["prefetchHoldMs", { argv: ["--prefetch-hold", "30d"] }, "a duration from 10 ms to 3600000 ms"],
    ["logLevel", { argv: ["--log-level", "verbose"] }, '"debug", "info", "warn", "error"'],
    ["logFormat", { argv: ["--log-format", "xml"] }, '"auto", "json", "text"'],
    ["transport", { argv: ["--transport", "carrier-pigeon"] }, '"auto", "websocket", "poll"'],
    ["insecure", { env: { EDGE_RUNNER_INSECURE: "maybe" } }, "true or false"],
    ["controllerUrl", { argv: ["--controller-url", "not a url"] }, "http:// or https://"],
    ["controllerUrl", { argv: ["--controller-url", "ftp://host"] }, "http:// or https://"],
    ["controllerUrl", { argv: ["--controller-url", "http://controller.example.com"] }, "--insecure"],
    ["statusHost", { argv: ["--status-host", "local host"] }, "a host name"],
    ["dataDir", { argv: ["--data-dir="] }, "non-empty"],
    ["heartbeatIntervalMs", { argv: ["--heartbeat-interval", "40s", "--lease-ttl", "30s"] }, "less than leaseTtlMs"],
    ["reconnectMinMs", { argv: ["--reconnect-min", "2m", "--reconnect-max", "1m"] }, "at most reconnectMaxMs"],
    ["apiKey", { argv: ["--api-key", "k1234", "--api-key-file", "/k"] }, "exclude each other"],
  ];
  for (const [field, options, expected] of bad) {
    test(`resolveConfig() rejects a bad ${field} and names it`, () => {
      const error = fails(options);
      expect(error.field).toBe(field);
      expect(error.code).toBe("config_invalid");
      expect(error.message).toContain(expected);
    });
  }

  test("resolveConfig() names the config file when it is missing, not JSON, or has an unknown key", () => {
    expect(fails({ argv: ["--config-file", "/nope.json"], readFile: () => { throw new Error("ENOENT"); } }).message).toContain('"/nope.json"');
    expect(fails({ argv: ["--config-file", "/c.json"], readFile: () => "{nope" }).message).toContain("as JSON");
    expect(fails({ argv: ["--config-file", "/c.json"], readFile: () => "[1]" }).message).toContain("a JSON object");
    const unknown = fails({ argv: ["--config-file", "/c.json"], readFile: () => '{"concurency": 2}' });
    expect(unknown.field).toBe("concurency");
  });

  test("resolveConfig() never echoes a secret value in its error", () => {
    // apiKey has no type constraint beyond non-empty, so force an error on it via the file type check.
    const error = fails({ argv: ["--config-file", "/c.json"], readFile: () => JSON.stringify({ apiKey: 12345678 }) });
    expect(error.message).not.toContain("12345678");
    expect(error.message).toContain("(hidden)");
  });

  test("resolveConfig() keeps runner options out of the controller command, as a usage error", () => {
    expect(() => resolveConfig({ scopes: ["controller"], argv: ["--concurrency", "2"], env: {} })).toThrow(UsageError);
  });

  test("resolveConfig() calls an unknown flag or a missing value a usage error naming the flag, with the nearest known one", () => {
    const usage = (argv: string[], ownFlags?: string[]): UsageError => {
      try {
        resolveConfig({ scopes: ["runner"], argv, env: {}, ...(ownFlags === undefined ? {} : { ownFlags }) });
      } catch (error) {
        if (error instanceof UsageError) return error;
        throw error;
      }
      throw new Error("no usage error");
    };
    const typo = usage(["--concurreny", "2"]);
    expect(typo.code).toBe("usage_invalid");
    expect(typo.flag).toBe("--concurreny");
    expect(typo.message).toBe('Unknown option "--concurreny" (did you mean --concurrency?)');
    expect(usage(["--frobnicate"]).message).toBe('Unknown option "--frobnicate" (see --help for the accepted options)');
    expect(usage(["--wiat"], ["--wait"]).message).toContain("did you mean --wait?");
    const missing = usage(["--group"]);
    expect(missing.flag).toBe("--group");
    expect(missing.message).toContain('Option "--group" needs a value');
  });
});

test("envName() and flagName() derive from the option name, dropping the Ms of durations", () => {
  const drain = OPTIONS.find((s) => s.name === "drainTimeoutMs")!;
  expect(envName(drain)).toBe("EDGE_RUNNER_DRAIN_TIMEOUT");
  expect(flagName(drain)).toBe("--drain-timeout");
  const names = OPTIONS.map((s) => envName(s));
  expect(new Set(names).size).toBe(names.length);
});

test("optionsHelp() and optionsMarkdown() list every option with its env var (a command's own options in its help)", () => {
  const md = optionsMarkdown();
  for (const spec of OPTIONS) {
    const help = optionsHelp(["runner", "controller"], (spec as { command?: string }).command);
    expect(help).toContain(flagName(spec));
    expect(md).toContain(envName(spec));
  }
});

test("parseDuration() accepts units and compounds, refuses nonsense", () => {
  expect(parseDuration("250ms")).toBe(250);
  expect(parseDuration("1h2m3s")).toBe(3_723_000);
  expect(parseDuration("1500")).toBe(1500);
  expect(parseDuration("1.5s")).toBe(1500);
  expect(parseDuration("5 minutes")).toBeUndefined();
  expect(parseDuration("")).toBeUndefined();
});
