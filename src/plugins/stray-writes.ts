// Inside a plugin Worker thread: raw writes to the process's own stdout and stderr (fd 1 and 2)
// through node:fs are taken from the plugin and handed to the host, which masks them before
// anything is printed. A thread shares the runner's descriptors, so without this a plugin's
// fs.writeSync(2, secret) reached the journal as is; console.* and process.stdout/stderr.write are
// caught by the runtime itself (plugin-runtime.ts). Installed once per worker, before any plugin
// code loads; a write to any other descriptor costs one comparison and goes on untouched. Bun's and
// Deno's own stdio writers (Bun.write(Bun.stderr), Deno.stderr.write) go the same way, through the
// same decoders (src/platform/runtime-std-writes.ts).
//
// Named ESM imports (`import { writeSync } from "node:fs"`) are bindings fixed by the runtime, so
// this module takes node:fs without an ESM import (node-builtins.ts explains) and worker-entry.ts
// loads the runtime only after the capture (test/security/thread-raw-writes.test.ts).

import { builtinModule, syncBuiltinNamedExports } from "./node-builtins.ts";
import { captureRuntimeStdWrites } from "../platform/runtime-std-writes.ts";

export type StdFd = 1 | 2;

type FsModule = typeof import("node:fs");
type Fn = (...args: unknown[]) => unknown;

const isStd = (fd: unknown): fd is StdFd => fd === 1 || fd === 2;

/**
 * Replaces the node:fs functions that write to a descriptor (write, writev, writeFile, appendFile,
 * sync or not) so that fd 1 and 2 go to `onText(fd, text)` (UTF-8 decoded as one stream per
 * descriptor) instead, and so the runtime's own writers for them (src/platform/runtime-std-writes.ts).
 * Returns false when node:fs could not be patched.
 */
export function captureStdWrites(onText: (fd: StdFd, text: string) => void): boolean {
  // A character split between two writes stays whole: each half alone would become U+FFFD, and a
  // secret around it would no longer match its redaction.
  const decoders = { 1: new TextDecoder(), 2: new TextDecoder() };
  const take = (fd: StdFd, bytes: Uint8Array): number => {
    const text = decoders[fd].decode(bytes, { stream: true });
    if (text !== "") onText(fd, text);
    return bytes.length;
  };
  captureRuntimeStdWrites(take);
  let fs: FsModule;
  try {
    fs = builtinModule<FsModule>("node:fs");
  } catch {
    return false;
  }
  const patch = (name: keyof FsModule, replace: (original: Fn) => Fn): void => {
    const original = fs[name] as unknown as Fn;
    if (typeof original === "function") (fs as unknown as Record<string, unknown>)[name] = replace(original);
  };
  patch("writeSync", (original) => function writeSync(this: unknown, fd, ...rest) {
    return isStd(fd) ? take(fd, writeBytes(rest)) : original.call(this, fd, ...rest);
  });
  patch("write", (original) => function write(this: unknown, fd, ...rest) {
    if (!isStd(fd)) return original.call(this, fd, ...rest);
    const callback = typeof rest.at(-1) === "function" ? (rest.pop() as Fn) : undefined;
    const written = take(fd, writeBytes(rest));
    if (callback !== undefined) queueMicrotask(() => callback(null, written, rest[0]));
    return undefined;
  });
  patch("writevSync", (original) => function writevSync(this: unknown, fd, ...rest) {
    return isStd(fd) ? take(fd, joined(rest[0])) : original.call(this, fd, ...rest);
  });
  patch("writev", (original) => function writev(this: unknown, fd, ...rest) {
    if (!isStd(fd)) return original.call(this, fd, ...rest);
    const callback = typeof rest.at(-1) === "function" ? (rest.pop() as Fn) : undefined;
    const written = take(fd, joined(rest[0]));
    if (callback !== undefined) queueMicrotask(() => callback(null, written, rest[0]));
    return undefined;
  });
  for (const name of ["writeFile", "appendFile"] as const) {
    patch(name, (original) => function file(this: unknown, target, ...rest) {
      if (!isStd(target)) return original.call(this, target, ...rest);
      const callback = typeof rest.at(-1) === "function" ? (rest.pop() as Fn) : undefined;
      const encoding = typeof rest[1] === "string" ? rest[1] : (rest[1] as { encoding?: unknown } | undefined)?.encoding;
      take(target, toBytes(rest[0], encoding));
      if (callback !== undefined) queueMicrotask(() => callback(null));
      return undefined;
    });
  }
  for (const name of ["writeFileSync", "appendFileSync"] as const) {
    patch(name, (original) => function fileSync(this: unknown, target, ...rest) {
      if (!isStd(target)) return original.call(this, target, ...rest);
      const encoding = typeof rest[1] === "string" ? rest[1] : (rest[1] as { encoding?: unknown } | undefined)?.encoding;
      take(target, toBytes(rest[0], encoding));
      return undefined;
    });
  }
  syncBuiltinNamedExports();
  return true;
}

/**
 * The bytes a write call would write, from its arguments after the descriptor:
 * (buffer, offset?, length?, position?), (buffer, {offset, length}) or (string, position?, encoding?).
 */
function writeBytes(args: unknown[]): Uint8Array {
  const [data, second, third] = args;
  if (!ArrayBuffer.isView(data)) return toBytes(data, third);
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const options = second !== null && typeof second === "object" ? (second as { offset?: unknown; length?: unknown }) : { offset: second, length: third };
  const offset = typeof options.offset === "number" ? options.offset : 0;
  const length = typeof options.length === "number" ? options.length : view.length - offset;
  return view.subarray(offset, offset + length);
}

function toBytes(data: unknown, encoding: unknown): Uint8Array {
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(String(data), typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8");
}

function joined(buffers: unknown): Uint8Array {
  return Array.isArray(buffers) ? Buffer.concat(buffers.map((b) => toBytes(b, undefined))) : new Uint8Array(0);
}
