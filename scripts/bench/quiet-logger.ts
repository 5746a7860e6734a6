// A logger for the benchmark: formats and redacts every record like production (level info)
// but keeps it in memory instead of writing to stderr, and keeps warnings and errors to report.

import { Logger, type LogRecord } from "../../src/log/logger.ts";

export interface BenchLogger {
  logger: Logger;
  /** Records at info or below seen so far (counted, then dropped). */
  readonly count: () => number;
  /** Every warn and error record, so a run that lost something says so. */
  readonly problems: LogRecord[];
}

export function benchLogger(): BenchLogger {
  let seen = 0;
  const problems: LogRecord[] = [];
  const logger = new Logger({
    level: "info",
    sink(record) {
      seen++;
      if (record.level === "warn" || record.level === "error") problems.push(record);
    },
  });
  return { logger, count: () => seen, problems };
}
