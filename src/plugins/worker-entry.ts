// The Worker thread's entry: the plugin runtime (plugin-runtime.ts) talking over parentPort.

import { parentPort } from "node:worker_threads";
import { startPluginRuntime } from "./plugin-runtime.ts";
import type { HostToWorker } from "./worker-protocol.ts";

if (parentPort === null) throw new Error("worker-entry.ts must run inside a Worker thread");
const port = parentPort;
startPluginRuntime({
  post: (message) => port.postMessage(message),
  onMessage: (listener) => port.on("message", (message: HostToWorker) => listener(message)),
});
