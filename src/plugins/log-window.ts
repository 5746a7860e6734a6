// Log lines from a plugin thread to the runner's thread, bounded. A plugin logging in a loop
// posts lines faster than the runner's thread takes them, and the thread's message queue held
// them all (a million 200-character lines: 440 MB). The host counts the characters of the lines
// it took in shared memory; the plugin's side posts a line only while at most LOG_WINDOW_CHARS
// wait, drops (and counts) it otherwise, and says how many in one line as soon as one fits again,
// or before the run's result. A child process (process isolation) holds its own queue, under its
// own memory ceiling, and has no window.

import { logLineChars } from "../protocol/limits.ts";

/** Characters of log lines one plugin thread may have posted that the runner has not taken yet. */
export const LOG_WINDOW_CHARS = 4 * 1024 * 1024;

/** Shared memory for one worker: one counter of characters taken, wrapping at 2^32. */
export function logWindowMemory(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** The host took a line (of a run that may have ended: it left the queue all the same). */
export function lineTaken(taken: Int32Array, msg: string): void {
  Atomics.add(taken, 0, logLineChars({ msg }));
}

/** The plugin thread's side: what it posted, against what the host took. */
export class LogWindow {
  #posted = 0;
  #taken: Int32Array | undefined;

  /** Without shared memory (a child process) every line goes. */
  attach(taken: Int32Array | undefined): void {
    this.#taken = taken;
  }

  /**
   * True, and counted as posted, when `msg` fits the window now (a line longer than the window
   * goes when nothing waits: the host clips it); `force` for the dropped-lines line.
   */
  take(msg: string, force = false): boolean {
    const chars = logLineChars({ msg });
    const waiting = this.#taken === undefined ? 0 : (this.#posted - Atomics.load(this.#taken, 0)) | 0;
    if (!force && waiting > 0 && waiting + chars > LOG_WINDOW_CHARS) return false;
    this.#posted = (this.#posted + chars) | 0;
    return true;
  }
}

export function droppedLinesText(lines: number): string {
  return `${lines} log lines dropped: the plugin wrote them faster than the runner took them (at most ${LOG_WINDOW_CHARS} characters wait)`;
}
