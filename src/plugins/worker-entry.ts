// The Worker thread's entry: the plugin runtime (plugin-runtime.ts) talking over parentPort.
// A thread shares the runner's stdout and stderr: raw writes to them go to the host first
// (stray-writes.ts), captured before the runtime, and so any node:fs, is loaded; so does the
// output of a child the plugin starts with fd 1 or 2 inherited (stray-children.ts).

import { parentPort } from "node:worker_threads";
import { captureChildStdio } from "./stray-children.ts";
import { captureStdWrites } from "./stray-writes.ts";
import type { HostToWorker, WorkerToHost } from "./worker-protocol.ts";

if (parentPort === null) throw new Error("worker-entry.ts must run inside a Worker thread");
const port = parentPort;
const post = (message: WorkerToHost): void => port.postMessage(message);
captureStdWrites((fd, text) => post({ type: "output", fd, text }));
captureChildStdio((fd, text) => post({ type: "output", fd, text }));

// The host's first messages may come while the runtime loads: held, then handed over in order.
const early: HostToWorker[] = [];
let deliver: ((message: HostToWorker) => void) | undefined;
port.on("message", (message: HostToWorker) => (deliver === undefined ? early.push(message) : deliver(message)));
// Imported only now: Bun and Deno fix a built-in's ESM named exports when the first module that
// imports it is evaluated, and the runtime's modules (the built-in plugins) import node:fs. The
// Node bundle keeps it a chunk of its own for that (scripts/build.ts, splitting).
const { startPluginRuntime } = await import("./plugin-runtime.ts");
startPluginRuntime({
  post,
  onMessage: (listener) => {
    deliver = listener;
    for (const message of early.splice(0)) listener(message);
  },
});
