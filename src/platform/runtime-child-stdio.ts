// Inside a plugin Worker thread: a child the plugin starts through the runtime's own API with its
// stdout or stderr inherited is given pipes instead, read into the host's stray output like
// src/plugins/stray-children.ts does for node:child_process. On Bun, Bun.spawn (whose stderr is
// inherited by default) and Bun.spawnSync, for "inherit", the numbers 1 and 2, Bun.stdout,
// Bun.stderr and Bun.file(1|2); the Subprocess's or result's `stdout`/`stderr` stay undefined, as inherit leaves them.
// Bun's node:child_process starts its children through Bun.spawn too: it reaches here with pipes
// already (stray-children.ts ran first), so nothing is read twice. On Deno, Deno.Command (whose
// spawn() inherits both by default, output() and outputSync() pipe them) is replaced by a subclass
// that asks for pipes; a redirected `stdout`/`stderr` throws the TypeError Deno's own does when
// it is not piped.

import { bunStdFile, replace } from "./runtime-std-writes.ts";

/** One child's output on one fd: bytes as they come, then the end. */
export type ChildOutput = (fd: 1 | 2) => { write(bytes: Uint8Array): void; end(): void };

type Fn = (...args: unknown[]) => unknown;
interface DenoLike {
  Command?: new (command: string | URL, options?: DenoCommandOptions) => DenoCommand;
}
type DenoCommandOptions = { stdout?: unknown; stderr?: unknown } & Record<string, unknown>;
interface DenoCommand {
  spawn(): Record<string, unknown>;
  output(): Promise<Record<string, unknown>>;
  outputSync(): Record<string, unknown>;
}
interface BunLike {
  spawn?: Fn;
  spawnSync?: Fn;
  stdout: object;
  stderr: object;
}
type SpawnOptions = { cmd?: unknown; stdio?: unknown; stdout?: unknown; stderr?: unknown; maxBuffer?: unknown };

/** As stray-children.ts's SYNC_MAX_BUFFER: the most a Sync child's redirected output may hold. */
const SYNC_MAX_BUFFER = 64 * 1024 * 1024;

/** Patches the current runtime's own child-process API (Bun's or Deno's; Node has none past node:child_process). */
export function captureRuntimeChildStdio(output: ChildOutput): void {
  const global = globalThis as { Bun?: BunLike; Deno?: DenoLike };
  if (global.Bun !== undefined) captureBun(global.Bun, output);
  else if (global.Deno !== undefined) captureDeno(global.Deno, output);
}

function captureDeno(deno: DenoLike, output: ChildOutput): void {
  const Original = deno.Command;
  if (typeof Original !== "function") return;
  const names = [["stdout", 1], ["stderr", 2]] as const;
  /** Takes a finished output()'s redirected bytes and makes them throw as not piped. */
  const took = (result: Record<string, unknown>, redirected: ReadonlyArray<"stdout" | "stderr">): Record<string, unknown> => {
    for (const [name, fd] of names) {
      if (!redirected.includes(name)) continue;
      passOn(result[name], output, fd);
      notPiped(result, name);
    }
    return result;
  };
  class Command extends Original {
    // Given "inherit": redirected whichever method runs; not given: only spawn() inherits.
    readonly #inherited: Array<"stdout" | "stderr"> = [];
    readonly #unset: Array<"stdout" | "stderr"> = [];
    constructor(command: string | URL, options?: DenoCommandOptions) {
      const given = options ?? {};
      const piped: DenoCommandOptions = { ...given };
      const inherited: Array<"stdout" | "stderr"> = [];
      const unset: Array<"stdout" | "stderr"> = [];
      for (const [name] of names) {
        if (given[name] === "inherit") inherited.push(name);
        else if (given[name] === undefined) unset.push(name);
        else continue;
        piped[name] = "piped";
      }
      super(command, piped);
      this.#inherited = inherited;
      this.#unset = unset;
    }
    override spawn(): Record<string, unknown> {
      const child = super.spawn();
      for (const [name, fd] of names) {
        if (!this.#inherited.includes(name) && !this.#unset.includes(name)) continue;
        const stream = child[name];
        if (stream instanceof ReadableStream) void drain(stream as ReadableStream<Uint8Array>, output(fd));
        notPiped(child, name);
      }
      return child;
    }
    override async output(): Promise<Record<string, unknown>> {
      return took(await super.output(), this.#inherited);
    }
    override outputSync(): Record<string, unknown> {
      return took(super.outputSync(), this.#inherited);
    }
  }
  try {
    deno.Command = Command;
  } catch {
    // Read-only on this Deno: left as it is.
  }
}

function captureBun(bun: BunLike, output: ChildOutput): void {
  const fdOf = (entry: unknown, index: 1 | 2): 1 | 2 | undefined => {
    if (entry === "inherit") return index;
    if (entry === 1 || entry === 2) return entry;
    // Bun.stdout, Bun.stderr and Bun.file(1|2), as runtime-std-writes.ts knows them (or the two alone if it did not run).
    return bunStdFile(entry) ?? (entry === bun.stdout ? 1 : entry === bun.stderr ? 2 : undefined);
  };
  /** Rewrites the call's options (a copy) so entries reaching fd 1 or 2 are pipes; returns them by name. */
  const redirect = (args: unknown[], sync: boolean): Map<"stdout" | "stderr", 1 | 2> => {
    const found = new Map<"stdout" | "stderr", 1 | 2>();
    // Bun.spawn(cmd, options) or Bun.spawn({ cmd, ...options }).
    const at = Array.isArray(args[0]) || typeof args[0] === "string" ? 1 : 0;
    const given = (args[at] !== null && typeof args[at] === "object" ? args[at] : {}) as SpawnOptions;
    const options: SpawnOptions = { ...given };
    if (Array.isArray(given.stdio)) {
      const entries = [...(given.stdio as unknown[])];
      for (const [index, name] of [[1, "stdout"], [2, "stderr"]] as const) {
        const fd = fdOf(entries[index], index);
        if (fd === undefined) continue;
        found.set(name, fd);
        entries[index] = "pipe";
      }
      options.stdio = entries;
    } else {
      // Bun.spawn inherits stderr when it is not given; Bun.spawnSync pipes both.
      for (const [index, name] of [[1, "stdout"], [2, "stderr"]] as const) {
        const entry = given[name] ?? (name === "stderr" && !sync ? "inherit" : "pipe");
        const fd = fdOf(entry, index);
        if (fd === undefined) continue;
        found.set(name, fd);
        options[name] = "pipe";
      }
    }
    if (found.size === 0) return found;
    if (sync) options.maxBuffer = Math.max(typeof given.maxBuffer === "number" ? given.maxBuffer : 0, SYNC_MAX_BUFFER);
    args[at] = options;
    return found;
  };
  replace(bun, "spawn", (original) => function spawn(this: unknown, ...args: unknown[]) {
    const found = redirect(args, false);
    const child = original.apply(this, args) as Record<string, unknown>;
    for (const [name, fd] of found) {
      const stream = child[name];
      if (stream instanceof ReadableStream) void drain(stream as ReadableStream<Uint8Array>, output(fd));
      hide(child, name);
    }
    return child;
  });
  replace(bun, "spawnSync", (original) => function spawnSync(this: unknown, ...args: unknown[]) {
    const found = redirect(args, true);
    const result = original.apply(this, args) as Record<string, unknown>;
    for (const [name, fd] of found) {
      passOn(result[name], output, fd);
      hide(result, name);
    }
    return result;
  });
}

/** A finished child's captured bytes of one stream, passed on whole as that stream's output. */
function passOn(data: unknown, output: ChildOutput, fd: 1 | 2): void {
  if (!(data instanceof Uint8Array)) return;
  const lines = output(fd);
  lines.write(data);
  lines.end();
}

async function drain(stream: ReadableStream<Uint8Array>, lines: ReturnType<ChildOutput>): Promise<void> {
  try {
    for await (const chunk of stream) lines.write(chunk);
  } catch {
    // A pipe that fails ends what it held: inherit has no error for the plugin to see.
  }
  lines.end();
}

/** Shows `name` as undefined on the object, as inherit leaves it. */
function hide(target: Record<string, unknown>, name: string): void {
  try {
    Object.defineProperty(target, name, { value: undefined, configurable: true, enumerable: true });
  } catch {
    // Not definable on this runtime version: the pipe is still read.
  }
}

/** Makes `name` throw as Deno's own getter does for a stream that is not piped. */
function notPiped(target: Record<string, unknown>, name: string): void {
  try {
    Object.defineProperty(target, name, {
      configurable: true,
      get() {
        throw new TypeError(`Cannot get '${name}': '${name}' is not piped`);
      },
    });
  } catch {
    // Not definable on this Deno: the pipe is still read.
  }
}
