// What one plugin worker wrote past its jobs' logs, line by line into the runner's log, masked
// before it is logged: a process host's stderr (its runtime's crash output, a plugin's raw writes
// to fd 2), a thread's raw writes to fd 1 and 2 (stray-writes.ts), and what a plugin printed with
// console.* or process.stdout/stderr.write while no run of it was going (a timer left behind). A
// line that does not end is passed on in pieces cut where no secret crosses
// (src/secrets/redaction/stream-cut.ts), so a secret split between two writes is masked whole.

import type { Logger } from "../log/logger.ts";
import { RedactedLines, type CutRedaction } from "../secrets/redaction/stream-cut.ts";

/** A line longer than this (one that never ends) is passed on in pieces. */
const MAX_LINE = 64 * 1024;
/** What one log record keeps of a line. */
const MAX_LOGGED = 4096;

export type StrayStream = "process stderr" | "stdout" | "stderr" | "outside a run";

const MESSAGES: Record<StrayStream, string> = {
  "process stderr": "Plugin host process wrote to stderr",
  stdout: "Plugin wrote to stdout",
  stderr: "Plugin wrote to stderr",
  "outside a run": "Plugin printed outside a run",
};

export class StrayOutput {
  readonly #lines = new Map<StrayStream, RedactedLines>();

  /** `redaction()`: the secrets to mask now (the worker's stray redaction, asked at each write). */
  constructor(
    private readonly plugin: string,
    private readonly log: Logger,
    private readonly redaction: () => CutRedaction,
  ) {}

  /** Text as it arrives; `end`: the stream closed (the rest of a line without its end is logged). */
  write(stream: StrayStream, text: string, end = false): void {
    let lines = this.#lines.get(stream);
    if (lines === undefined) {
      // Made at the first write: a worker that prints nothing costs nothing here.
      if (text === "") return;
      const message = MESSAGES[stream];
      lines = new RedactedLines(MAX_LINE, (line) => this.log.warn(message, logged(this.plugin, line)));
      this.#lines.set(stream, lines);
    }
    if (text !== "") lines.write(text, this.redaction());
    if (end) lines.end(this.redaction());
  }
}

/**
 * A record of a line: whole up to MAX_LOGGED UTF-16 units, else its first ones (never half of a
 * surrogate pair) and, not silently, how many it left out.
 */
function logged(plugin: string, line: string): { plugin: string; line: string; omittedChars?: number } {
  if (line.length <= MAX_LOGGED) return { plugin, line };
  const keep = isHighSurrogate(line.charCodeAt(MAX_LOGGED - 1)) ? MAX_LOGGED - 1 : MAX_LOGGED;
  return { plugin, line: line.slice(0, keep), omittedChars: line.length - keep };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
