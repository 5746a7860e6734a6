// Inside a plugin Worker thread: a child process the plugin starts with its stdout or stderr
// inherited (`stdio: "inherit"`, `[0, 1, 2]`, `process.stderr` as an entry, fork's default) would
// write to the runner's own fd 1 and 2, which a thread shares: the job's secrets reached the
// journal as is. Those entries become pipes here, and what the child prints goes to the host as
// the thread's raw writes do (stray-writes.ts), masked there. The child's stdin and every other
// entry are left as given, and what the plugin sees stays as inherit shows it: `child.stdout` and
// `child.stdio[1]` are null, spawnSync's `stdout` is null, execSync returns null.
//
// spawn and fork pass output on as it comes; the Sync variants block the thread, so theirs arrives
// when the child ends (at most SYNC_MAX_BUFFER bytes: past that the child is stopped as maxBuffer
// stops a piped one). As with any pipe, a background process the child leaves holding them delays
// `close` and a Sync call's return until it ends or closes them (docs/security.md). exec and
// execFile always pipe their output to the callback (they do not pass `stdio` on, on Bun, Node or
// Deno) and are left alone. Bun.spawn, Bun.spawnSync and Deno.Command go the same way
// (src/platform/runtime-child-stdio.ts). Installed before any plugin code loads, for the
// reason stray-writes.ts's header gives: named ESM imports are fixed then.

import { builtinModule, syncBuiltinNamedExports } from "./node-builtins.ts";
import { captureRuntimeChildStdio, type ChildOutput } from "../platform/runtime-child-stdio.ts";
import type { StdFd } from "./stray-writes.ts";

type ChildProcessModule = typeof import("node:child_process");
type Fn = (...args: unknown[]) => unknown;
type Readable = { on(event: string, listener: (...args: unknown[]) => void): unknown };
type Child = { stdio?: Array<unknown>; stdout?: unknown; stderr?: unknown };
type SyncResult = { output?: Array<unknown> | null; stdout?: unknown; stderr?: unknown; status?: number | null; error?: unknown };

/** The most a Sync child's inherited output may hold, all entries together (Node's default is 1 MiB). */
const SYNC_MAX_BUFFER = 64 * 1024 * 1024;
/** A line a child never ends is passed on in pieces of this size (the host cuts it again where no secret crosses). */
const LINE_MAX = 64 * 1024;

/** Entries of a stdio option that were inherited fds 1 or 2, by index, with the fd they named. */
type Redirected = Map<number, StdFd>;

/**
 * Wraps node:child_process's spawn, fork, spawnSync, execSync and execFileSync, and Bun.spawn,
 * Bun.spawnSync and Deno.Command (src/platform/runtime-child-stdio.ts), so a child's inherited fd
 * 1 and 2 become pipes whose text goes to `onText(fd, text)`, in whole lines. Returns false when
 * node:child_process could not be patched.
 */
export function captureChildStdio(onText: (fd: StdFd, text: string) => void): boolean {
  const output: ChildOutput = (fd) => childLines(fd, onText);
  captureRuntimeChildStdio(output);
  let cp: ChildProcessModule;
  try {
    cp = builtinModule<ChildProcessModule>("node:child_process");
  } catch {
    return false;
  }
  const originals = cp as unknown as Record<string, Fn>;
  const spawnSync = originals.spawnSync;
  // One the runtime does not let us replace is left as it is; the others are still patched.
  let patched = true;
  const patch = (name: string, make: (original: Fn) => Fn): void => {
    const original = originals[name];
    if (typeof original !== "function") return;
    try {
      originals[name] = make(original);
    } catch {
      patched = false;
    }
  };
  for (const name of ["spawn", "fork"] as const) {
    patch(name, (original) => function started(this: unknown, ...args: unknown[]) {
      const at = optionsAt(args);
      const redirected = redirect(args, at, name === "fork");
      const child = original.apply(this, args) as Child | undefined;
      if (redirected.size > 0 && child !== undefined && child !== null) readChild(child, redirected, output);
      return child;
    });
  }
  if (typeof spawnSync === "function") {
    patch("spawnSync", (original) => function spawnSyncCaptured(this: unknown, ...args: unknown[]) {
      const redirected = redirect(args, optionsAt(args), false, true);
      const result = original.apply(this, args) as SyncResult;
      if (redirected.size > 0) takeSync(result, redirected, output);
      return result;
    });
    // execSync and execFileSync are spawnSync and an error on failure: they return only stdout,
    // so with stderr redirected they are run through spawnSync here, which has both.
    patch("execSync", (original) => function execSyncCaptured(this: unknown, ...args: unknown[]) {
      const holder = [isOptions(args[1]) ? args[1] : {}];
      const redirected = redirect(holder, 0, false, true);
      if (redirected.size === 0) return original.apply(this, args);
      const options = holder[0] as { shell?: unknown };
      const result = spawnSync.call(cp, args[0], { ...options, shell: typeof options.shell === "string" ? options.shell : true }) as SyncResult;
      return execResult(result, redirected, output, String(args[0]));
    });
    patch("execFileSync", (original) => function execFileSyncCaptured(this: unknown, ...args: unknown[]) {
      const list = Array.isArray(args[1]) ? (args[1] as unknown[]) : [];
      const at = Array.isArray(args[1]) || args[1] === undefined || args[1] === null ? 2 : 1;
      const holder = [isOptions(args[at]) ? args[at] : {}];
      const redirected = redirect(holder, 0, false, true);
      if (redirected.size === 0) return original.apply(this, args);
      const result = spawnSync.call(cp, args[0], list, holder[0]) as SyncResult;
      return execResult(result, redirected, output, [args[0], ...list].join(" "));
    });
  }
  syncBuiltinNamedExports();
  return patched;
}

function isOptions(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Where spawn/fork/spawnSync's options are: after the command, and its argument array if given. */
function optionsAt(args: unknown[]): number {
  return Array.isArray(args[1]) || ((args[1] === undefined || args[1] === null) && isOptions(args[2])) ? 2 : 1;
}

/** The runner fd a stdio entry at `index` sends the child's output to, when it is 1 or 2. */
function targetFd(entry: unknown, index: number): StdFd | undefined {
  if (entry === "inherit") return index === 1 || index === 2 ? index : undefined;
  if (entry === 1 || entry === 2) return entry;
  if (entry === process.stdout) return 1;
  if (entry === process.stderr) return 2;
  const fd = entry !== null && typeof entry === "object" ? (entry as { fd?: unknown }).fd : undefined;
  return fd === 1 || fd === 2 ? fd : undefined;
}

/**
 * Rewrites args[at]'s stdio in place (a copy of the options) so entries 1 and up that reach the
 * runner's fd 1 or 2 are pipes; returns which. Entry 0 (stdin) is never touched. `fork`: its
 * default stdio inherits; `sync`: maxBuffer is raised to SYNC_MAX_BUFFER so inherited output
 * is not cut at Node's 1 MiB.
 */
function redirect(args: unknown[], at: number, fork: boolean, sync = false): Redirected {
  const redirected: Redirected = new Map();
  const given = isOptions(args[at]) ? (args[at] as { stdio?: unknown; silent?: unknown; maxBuffer?: unknown }) : undefined;
  let stdio = given?.stdio;
  if (stdio === undefined && fork && given?.silent !== true) stdio = [0, 1, 2, "ipc"];
  if (typeof stdio === "string") stdio = stdio === "inherit" ? ["inherit", "inherit", "inherit"] : undefined;
  if (!Array.isArray(stdio)) return redirected;
  const entries = [...(stdio as unknown[])];
  entries.forEach((entry, index) => {
    const fd = index === 0 ? undefined : targetFd(entry, index);
    if (fd === undefined) return;
    redirected.set(index, fd);
    entries[index] = "pipe";
  });
  if (redirected.size === 0) return redirected;
  const options: Record<string, unknown> = { ...(given ?? {}), stdio: entries };
  if (sync) {
    const max = typeof given?.maxBuffer === "number" ? given.maxBuffer : 0;
    options.maxBuffer = Math.max(max, SYNC_MAX_BUFFER);
  }
  // Only fork's default stdio redirects with no options given: they go where fork looks for them.
  if (given !== undefined || args[at] === undefined || args[at] === null) args[at] = options;
  else args.splice(at, 0, options);
  return redirected;
}

/** Reads the redirected pipes of a started child, and hides them as inherit would. */
function readChild(child: Child, redirected: Redirected, output: ChildOutput): void {
  for (const [index, fd] of redirected) {
    const stream = child.stdio?.[index] as Readable | null | undefined;
    if (stream === null || stream === undefined || typeof stream.on !== "function") continue;
    const lines = output(fd);
    stream.on("data", (chunk) => lines.write(chunk as Uint8Array));
    stream.on("end", () => lines.end());
    // A pipe that fails ends what it held; its error is not the plugin's to handle (inherit has none).
    stream.on("error", () => lines.end());
    if (child.stdio !== undefined) child.stdio[index] = null;
    if (index === 1) child.stdout = null;
    if (index === 2) child.stderr = null;
  }
}

/** Takes a finished Sync child's redirected output and nulls it as inherit would. */
function takeSync(result: SyncResult, redirected: Redirected, output: ChildOutput): void {
  for (const [index, fd] of redirected) {
    const data = result.output?.[index];
    if (data !== null && data !== undefined) {
      const lines = output(fd);
      lines.write(typeof data === "string" ? new TextEncoder().encode(data) : (data as Uint8Array));
      lines.end();
    }
    if (Array.isArray(result.output)) result.output[index] = null;
    if (index === 1) result.stdout = null;
    if (index === 2) result.stderr = null;
  }
}

/** execSync/execFileSync's answer from spawnSync's result: stdout, or the error Node throws. */
function execResult(result: SyncResult, redirected: Redirected, output: ChildOutput, command: string): unknown {
  takeSync(result, redirected, output);
  if (result.error !== undefined && result.error !== null) throw Object.assign(result.error as object, result);
  if (result.status !== 0) {
    const stderr = result.stderr as { length?: number; toString(): string } | null | undefined;
    const detail = stderr !== null && stderr !== undefined && (stderr.length ?? 0) > 0 ? `\n${stderr.toString()}` : "";
    throw Object.assign(new Error(`Command failed: ${command}${detail}`), result);
  }
  return result.stdout;
}

/**
 * One child's output on one fd: decoded as one stream, passed on in whole lines (so two children
 * printing at once interleave by line, never inside a secret), a line that never ends in pieces
 * of LINE_MAX, and at the end what is left, given its line end.
 */
function childLines(fd: StdFd, onText: (fd: StdFd, text: string) => void): { write(bytes: Uint8Array): void; end(): void } {
  const decoder = new TextDecoder();
  let pending = "";
  let ended = false;
  return {
    write(bytes) {
      if (ended) return;
      pending += decoder.decode(bytes, { stream: true });
      const last = pending.lastIndexOf("\n");
      if (last >= 0) {
        onText(fd, pending.slice(0, last + 1));
        pending = pending.slice(last + 1);
      }
      while (pending.length >= LINE_MAX) {
        onText(fd, pending.slice(0, LINE_MAX));
        pending = pending.slice(LINE_MAX);
      }
    },
    end() {
      if (ended) return;
      ended = true;
      pending += decoder.decode();
      if (pending !== "") onText(fd, pending.endsWith("\n") ? pending : `${pending}\n`);
      pending = "";
    },
  };
}
