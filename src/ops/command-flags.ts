// Separates a command's own flags (--wait, --json, …) from the option-table flags that
// resolveConfig() parses, so each command adds flags without touching the option table.

import { errorMessage } from "../errors.ts";

export type FlagKind = "bool" | "string";

export interface TakenFlags {
  flags: Map<string, string | true>;
  /** Every other argument, in order, for resolveConfig(). */
  rest: string[];
}

export function takeFlags(args: readonly string[], spec: Readonly<Record<string, FlagKind>>): TakenFlags {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const kind = spec[name];
    if (kind === undefined) {
      rest.push(arg);
      continue;
    }
    if (kind === "bool") {
      if (eq !== -1) throw new TypeError(`Option "${name}" takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === "") throw new TypeError(`Option "${name}" needs a value`);
    flags.set(name, value);
  }
  return { flags, rest };
}

/**
 * The start every ops command shares: `--help` prints its help, then its own flags are taken.
 * Returns the exit code to stop with (help shown, or a usage error written), or the flags.
 */
export function startOpsCommand(
  command: string,
  help: string,
  args: readonly string[],
  spec: Readonly<Record<string, FlagKind>>,
  io: { out(text: string): void; err(text: string): void },
): { exit: number } | TakenFlags {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(help);
    return { exit: 0 };
  }
  try {
    return takeFlags(args, spec);
  } catch (error) {
    io.err(`edge-runner ${command}: ${errorMessage(error)}\n`);
    return { exit: 64 };
  }
}
