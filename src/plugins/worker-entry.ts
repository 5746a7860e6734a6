// The Worker thread's entry: the plugin runtime (plugin-runtime.ts) talking over parentPort.
// A thread shares the runner's stdout and stderr: raw writes to them go to the host first.

import { parentPort } from "node:worker_threads";
import { startPluginRuntime } from "./plugin-runtime.ts";
import { captureStdWrites } from "./stray-writes.ts";
import type { HostToWorker, WorkerToHost } from "./worker-protocol.ts";

if (parentPort === null) throw new Error("worker-entry.ts must run inside a Worker thread");
const port = parentPort;
const post = (message: WorkerToHost): void => port.postMessage(message);
captureStdWrites((fd, text) => post({ type: "output", fd, text }));
startPluginRuntime({
  post,
  onMessage: (listener) => port.on("message", (message: HostToWorker) => listener(message)),
});
