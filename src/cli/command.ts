// What a CLI command is: a name, a one-line summary, and a function of its arguments that
// returns the process exit code. src/cli/main.ts holds the table of them.

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** `args` are the arguments after the command name. Resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Exit codes shared by every command (sysexits.h where one fits). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 64,
  unavailable: 69,
  config: 78,
} as const;

/** Where a command writes; injectable so tests capture what a person would read. */
export interface CommandOutput {
  out?: (text: string) => void;
  err?: (text: string) => void;
}

export function commandOutput(deps: CommandOutput): Required<CommandOutput> {
  return {
    out: deps.out ?? ((text) => void process.stdout.write(text)),
    err: deps.err ?? ((text) => void process.stderr.write(text)),
  };
}
