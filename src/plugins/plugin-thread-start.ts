// Starts the thread (or, in process isolation, the child process) that hosts one plugin worker,
// as the plugin's policy asks.

import { startWorker, type StartWorkerOptions } from "../platform/worker.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { PluginPolicy } from "./pool-policy.ts";
import { startProcessWorker } from "./process-worker.ts";

export interface StartPluginThreadOptions {
  policy: PluginPolicy;
  /** Heap cap per worker in MiB; Node and Deno enforce it for threads, child processes get it as a flag. */
  maxWorkerHeapMb?: number;
  /** Replaces the thread starter (tests). */
  spawn?: (options: StartWorkerOptions) => PluginThread;
  /** A process worker's stderr as it arrives (see StartProcessWorkerOptions.onStderr). */
  onStderr: (text: string, end?: boolean) => void;
}

export function startPluginThread(options: StartPluginThreadOptions): PluginThread {
  const { policy, maxWorkerHeapMb } = options;
  if (policy.isolation === "process") {
    return startProcessWorker({
      ...(maxWorkerHeapMb === undefined ? {} : { maxOldGenerationSizeMb: maxWorkerHeapMb }),
      ...(policy.memoryCeilingMb === undefined ? {} : { memoryCeilingMb: policy.memoryCeilingMb }),
      onStderr: options.onStderr,
    });
  }
  return (options.spawn ?? startWorker)(maxWorkerHeapMb === undefined ? {} : { maxOldGenerationSizeMb: maxWorkerHeapMb });
}
