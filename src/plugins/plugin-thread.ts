// What the host needs from a running plugin worker: a Worker thread has it as is; a child
// process (process isolation mode, process-worker.ts) is adapted to it.

import type { HostToWorker, WorkerToHost } from "./worker-protocol.ts";

export interface PluginThread {
  on(event: "message", listener: (message: WorkerToHost) => void): unknown;
  on(event: "error", listener: (error: Error & { code?: string }) => void): unknown;
  on(event: "exit", listener: (code: number) => void): unknown;
  /** Throws when the message cannot be cloned. */
  postMessage(message: HostToWorker): void;
  /** Ends it now (the only way to stop a loop that never yields). */
  terminate(): Promise<unknown>;
  /** Whether it keeps the runner's event loop alive: a busy one must, an idle one must not. */
  ref(): void;
  unref(): void;
  /** A child process host leads its own process group (its id); a thread has none. */
  readonly processGroup?: number | undefined;
}
