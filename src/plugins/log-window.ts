// Log lines and steps from a plugin thread to the runner's thread, bounded. A plugin logging (or
// updating a progress step) in a loop posts faster than the runner's thread takes them, and the
// thread's message queue held them all (a million 200-character lines: 440 MB). The host counts
// the characters it took in shared memory; the plugin's side posts only while at most
// LOG_WINDOW_CHARS wait. Past that a line is dropped and counted, said in one line as soon as one
// fits again, before a step, and before the run's result; a step update is held instead (the
// latest of each step) and posted once there is room. A child process (process isolation) holds
// its own queue, under its own memory ceiling, and has no window.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";
import { HeldSteps, stepChars } from "../protocol/held-steps.ts";
import { logLineChars } from "../protocol/limits.ts";
import type { WorkerToHost } from "./worker-protocol.ts";

/** Characters of log lines and steps one plugin thread may have posted that the runner has not taken yet. */
export const LOG_WINDOW_CHARS = 4 * 1024 * 1024;
/** Shared memory for one worker: one counter of characters taken, wrapping at 2^32. */
export function logWindowMemory(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** The host took a line or a step (of a run that may have ended: it left the queue all the same); it counts as the plugin's side did. */
export function taken(window: Int32Array, message: WorkerToHost): void {
  if (message.type === "log") Atomics.add(window, 0, logLineChars({ msg: typeof message.msg === "string" ? message.msg : "" }));
  else if (message.type === "step" && message.step !== null && typeof message.step === "object") Atomics.add(window, 0, stepChars(message.step));
}

/** The plugin thread's side: what it posted, against what the host took. */
export class LogWindow {
  #posted = 0;
  #taken: Int32Array | undefined;

  /** Without shared memory (a child process) everything goes. */
  attach(taken: Int32Array | undefined): void {
    this.#taken = taken;
  }

  /**
   * True, and counted as posted, when `chars` fit the window now (more than the window goes when
   * nothing waits: the host clips it); `force` for what must go (the dropped-lines line).
   */
  take(chars: number, force = false): boolean {
    const waiting = this.#taken === undefined ? 0 : (this.#posted - Atomics.load(this.#taken, 0)) | 0;
    if (!force && waiting > 0 && waiting + chars > LOG_WINDOW_CHARS) return false;
    this.#posted = (this.#posted + chars) | 0;
    return true;
  }
}

/** One run's lines and steps through the window. */
export class WindowedRun {
  readonly #held = new HeldSteps();

  constructor(private readonly window: LogWindow, private readonly post: (message: WorkerToHost) => void, private readonly runId: number) {}

  line(level: LogLevel, msg: string): void {
    if (!this.window.take(logLineChars({ msg }))) {
      this.#held.dropLines(1);
      return;
    }
    this.flush();
    // Not cut here: the host redacts first and then clips (src/plugins/job-text.ts), so a cut can never split a secret.
    this.post({ type: "log", runId: this.runId, level, msg, ts: Date.now() });
  }

  step(step: StepUpdate): void {
    if (!this.window.take(stepChars(step))) return this.#held.hold(step);
    this.flush();
    this.post({ type: "step", runId: this.runId, step });
  }

  /** What waited, now (room came, or the result follows): the count of what was dropped, then the held steps. */
  flush(): void {
    const { dropped, steps } = this.#held.drain(`the plugin wrote them faster than the runner took them (at most ${LOG_WINDOW_CHARS} characters wait)`);
    if (dropped !== undefined) {
      this.window.take(logLineChars({ msg: dropped }), true);
      this.post({ type: "log", runId: this.runId, level: "warn", msg: dropped, ts: Date.now() });
    }
    for (const step of steps) {
      this.window.take(stepChars(step), true);
      this.post({ type: "step", runId: this.runId, step });
    }
  }
}
