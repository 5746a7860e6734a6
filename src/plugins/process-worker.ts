// Process isolation mode: the plugin runtime in a child process (`edge-runner __plugin-host`),
// adapted to the PluginThread shape the host uses. The child gets its own heap cap where the
// runtime has one (--max-old-space-size on Node), and on Linux the host polls its resident
// memory and kills it past the ceiling, which bounds a plugin on Bun too.

import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { pluginEnv, pluginHostCommand } from "../platform/worker.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { HostToWorker, WorkerToHost } from "./worker-protocol.ts";


export interface StartProcessWorkerOptions {
  /** Heap cap (Node: --max-old-space-size); Bun has none, see memoryCeilingMb. */
  maxOldGenerationSizeMb?: number;
  /** Resident memory ceiling; the child is killed past it (Linux /proc; checked every `pollMs`). */
  memoryCeilingMb?: number;
  pollMs?: number;
  /**
   * Text the child writes to stderr (its runtime's crash output, a plugin's raw writes to fd 2),
   * decoded, as it arrives: not cut into lines here, for the reader cuts it where no secret
   * crosses a cut (src/secrets/redaction/stream-cut.ts). `end`: the child's stderr closed.
   */
  onStderr?: (text: string, end?: boolean) => void;
  /** Overrides the command (tests). */
  command?: { execPath: string; args: string[] };
}

export function startProcessWorker(options: StartProcessWorkerOptions = {}): PluginThread {
  const { execPath, args } = options.command ?? pluginHostCommand(options.maxOldGenerationSizeMb);
  const child = fork(args[0] ?? "", args.slice(1), {
    execPath,
    execArgv: [],
    env: pluginEnv(),
    serialization: "advanced",
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    // Its own process group: what a plugin starts without node:child_process (Bun.spawn, a
    // library's native spawn) stays in it, and is stopped when the run ends (see the pool).
    detached: true,
  });
  return new ProcessWorker(child, options);
}


class ProcessWorker extends EventEmitter implements PluginThread {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number>;
  #poll: ReturnType<typeof setInterval> | undefined;
  #overCeiling = false;

  constructor(child: ChildProcess, options: StartProcessWorkerOptions) {
    super();
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        if (this.#poll !== undefined) clearInterval(this.#poll);
        const status = code ?? (signal === null ? 1 : 128);
        if (this.#overCeiling) this.emit("error", Object.assign(new Error(`resident memory over ${options.memoryCeilingMb} MiB`), { code: "ERR_WORKER_OUT_OF_MEMORY" }));
        this.emit("exit", status);
        resolve(status);
      });
    });
    const ceiling = options.memoryCeilingMb === undefined ? undefined : options.memoryCeilingMb * 1024 * 1024;
    child.on("message", (raw) => {
      const message = raw as WorkerToHost;
      // Killed for its memory: nothing it says after that counts (a `done` may already be on its way).
      if (this.#overCeiling) return;
      // The runtime reports its resident memory before it reports a run's end, so a run that
      // crossed the ceiling fails even when it ended between two polls.
      if (message.type === "usage" && ceiling !== undefined && message.rssBytes > ceiling) return this.#killOverCeiling();
      this.emit("message", message);
    });
    child.on("error", (error) => this.emit("error", error));
    // Decoded as one stream (a character split between two chunks stays whole) and passed on as
    // it comes: the pool redacts before it cuts, so a cut cannot leave part of a secret.
    const decoder = new StringDecoder("utf8");
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text !== "") options.onStderr?.(text);
    });
    child.stderr?.on("end", () => options.onStderr?.(decoder.end(), true));
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    // Between runs (a timer the plugin left behind) only polling sees the memory grow.
    if (ceiling !== undefined && process.platform === "linux" && child.pid !== undefined) {
      const pid = child.pid;
      this.#poll = setInterval(() => {
        void residentBytes(pid).then((rss) => {
          if (rss !== undefined && rss > ceiling) this.#killOverCeiling();
        });
      }, options.pollMs ?? 250);
      this.#poll.unref();
    }
  }

  get processGroup(): number | undefined {
    return this.#child.pid;
  }

  #killOverCeiling(): void {
    if (this.#overCeiling) return;
    this.#overCeiling = true;
    this.#child.kill("SIGKILL");
  }

  postMessage(message: HostToWorker): void {
    if (!this.#child.connected) throw new Error("the plugin host process is gone");
    this.#child.send(message);
  }

  terminate(): Promise<unknown> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      // An idle child is unref'd; a caller awaiting its end must keep the process alive until the
      // exit event, or the event loop empties first and the process ends without finishing.
      this.ref();
      this.#child.kill("SIGKILL");
    }
    return this.#exited;
  }

  ref(): void {
    this.#child.ref();
    (this.#child.channel as { ref?: () => void } | undefined)?.ref?.();
  }

  unref(): void {
    this.#child.unref();
    (this.#child.channel as { unref?: () => void } | undefined)?.unref?.();
  }
}

/** VmRSS of a process from /proc, or undefined when it cannot be read (gone, not Linux). */
async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const statm = await readFile(`/proc/${pid}/statm`, "utf8");
    const pages = Number(statm.split(" ")[1]);
    return Number.isFinite(pages) ? pages * 4096 : undefined;
  } catch {
    return undefined;
  }
}
