// The child-process entry of process isolation mode (`edge-runner __plugin-host`): the plugin
// runtime talking to the runner over the IPC channel (structured clone, like a Worker's port).

import { startPluginRuntime } from "./plugin-runtime.ts";
import type { HostToWorker, WorkerToHost } from "./worker-protocol.ts";

if (typeof process.send !== "function") {
  process.stderr.write("edge-runner __plugin-host is started by the runner (process isolation mode), not by hand\n");
  process.exitCode = 64;
} else {
  const send = process.send.bind(process);
  const exit = process.exit.bind(process);
  // Orphaned (the runner died or closed the channel): nothing would ever read our results.
  process.on("disconnect", () => exit(0));
  startPluginRuntime({
    post: (message: WorkerToHost) => {
      send(message);
    },
    onMessage: (listener) => process.on("message", (message) => listener(message as HostToWorker)),
  });
}
