// Structured logging: JSON lines when stdout is not a terminal (journald, files), a short
// human form on a terminal. Every line goes through the redactor.

import { redactor } from "./redact.ts";
import { stripUrlCredentials } from "../config/url.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface LogRecord {
  ts: string;
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

export interface LoggerOptions {
  level?: LogLevel;
  /** `auto`: JSON unless stderr is a terminal. Ignored when `sink` is given. */
  format?: "auto" | "json" | "text";
  sink?: LogSink;
  fields?: LogFields;
}

export class Logger {
  readonly #level: LogLevel;
  readonly #sink: LogSink;
  readonly #fields: LogFields;

  constructor(options: LoggerOptions = {}) {
    this.#level = options.level ?? "info";
    this.#sink = options.sink ?? defaultSink(options.format ?? "auto");
    this.#fields = options.fields ?? {};
  }

  /** A logger that adds `fields` to every line (job id, plugin, component). */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.#level, sink: this.#sink, fields: { ...this.#fields, ...fields } });
  }

  debug(msg: string, fields?: LogFields): void { this.write("debug", msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write("info", msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write("warn", msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write("error", msg, fields); }

  write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.#level]) return;
    const merged = fields === undefined ? this.#fields : { ...this.#fields, ...fields };
    this.#sink({
      ts: new Date().toISOString(),
      level,
      msg: redactor.text(stripUrlCredentials(msg)),
      ...(redactor.value(withoutUrlCredentials(merged, 0)) as LogFields),
    });
  }
}

/** stripUrlCredentials() over every string of a log line's fields (bounded depth). */
function withoutUrlCredentials(value: unknown, depth: number): unknown {
  if (typeof value === "string") return stripUrlCredentials(value);
  if (depth >= 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => withoutUrlCredentials(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutUrlCredentials(v, depth + 1)]));
}

function defaultSink(format: "auto" | "json" | "text"): LogSink {
  // Asked at the first line, not here: on Bun the first touch of process.stderr builds a Node
  // stream (~1.4 MiB and ~0.5 ms), which a runner that logs nothing at start never needs.
  let json: boolean | undefined;
  return (record) => {
    json ??= format === "json" || (format === "auto" && !process.stderr.isTTY);
    if (json) {
      process.stderr.write(JSON.stringify(record) + "\n");
      return;
    }
    const { ts, level, msg, ...fields } = record;
    const extra = Object.keys(fields).length > 0 ? " " + JSON.stringify(fields) : "";
    process.stderr.write(`${ts.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
  };
}

/** A logger that records into an array: for tests. */
export function memoryLogger(level: LogLevel = "debug"): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { logger: new Logger({ level, sink: (r) => records.push(r) }), records };
}
