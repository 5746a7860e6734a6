// How a sub-command's failure becomes its exit code, once for the commands that print their own
// usage: a usage error (64) repeats the usage, an expected failure is one line (78 for a config
// error, else 1), anything else is a bug and goes on to main's handler.

import { EdgeError } from "../errors.ts";
import { EXIT } from "./command.ts";
import { UsageError } from "./cli-args.ts";

export interface CommandErrorReport {
  /** What the line starts with, e.g. "edge-runner keys". */
  label: string;
  usage: string;
  /** Put the error's code before its message (the plugin author tools do). */
  showCode?: boolean;
}

export function commandErrorExit(error: unknown, report: CommandErrorReport): number {
  if (error instanceof UsageError || error instanceof RangeError) {
    process.stderr.write(`${report.label}: ${error.message}\n\n${report.usage}`);
    return EXIT.usage;
  }
  if (error instanceof EdgeError) {
    process.stderr.write(`${report.label}: ${report.showCode === true ? `${error.code}: ` : ""}${error.message}\n`);
    return error.code === "config_invalid" ? EXIT.config : EXIT.failure;
  }
  throw error;
}
