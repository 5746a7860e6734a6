// Inside a plugin Worker thread: the runtime's own writers for the process's stdout and stderr,
// past node:fs, are taken to the host like src/plugins/stray-writes.ts's node:fs writes. On Bun (what the
// compiled binary runs) Bun.write to Bun.stdout, Bun.stderr, Bun.file(1|2) or the number 1|2, and
// those files' write() and writer(); on Deno Deno.stdout/Deno.stderr's write(), writeSync() and
// writable. Each runtime's objects belong to the thread, so the host's own writers stay as they
// are. Bun.write and Bun.file are replaced on Bun; the files' and Deno's stdio methods on their
// prototypes, the thread's stdio objects looked up by identity, so the original methods are not
// left on what a plugin sees; any other destination goes on untouched.
// A property a runtime does not let us replace is left as it is (docs/security.md lists what is
// covered, checked by test/security/thread-raw-writes.test.ts).

/** Takes bytes meant for fd 1 or 2 and returns how many were "written" (all of them). */
export type TakeStdBytes = (fd: 1 | 2, bytes: Uint8Array) => number;

type Fn = (...args: unknown[]) => unknown;
type Writer = { write(chunk: unknown): number; flush(): number; end(): number; start(): void; ref(): void; unref(): void; close(): void };

interface BunLike {
  write: Fn;
  file: Fn;
  stdout: object;
  stderr: object;
}
interface DenoLike {
  stdout?: object;
  stderr?: object;
}

/** Patches the current runtime's own stdio writers (Bun or Deno; Node has none past node:fs). */
export function captureRuntimeStdWrites(take: TakeStdBytes): void {
  const global = globalThis as { Bun?: BunLike; Deno?: DenoLike };
  if (global.Bun !== undefined) captureBun(global.Bun, take);
  else if (global.Deno !== undefined) captureDeno(global.Deno, take);
}

/** The thread's Bun.stdout and Bun.stderr, and each Bun.file(1|2) made after the capture, by fd. */
const bunStd = new WeakMap<object, 1 | 2>();

/** The fd 1 or 2 a Bun file object stands for (Bun.stdout, Bun.stderr, Bun.file(1|2)), else undefined. */
export function bunStdFile(value: unknown): 1 | 2 | undefined {
  return value !== null && typeof value === "object" ? bunStd.get(value) : undefined;
}

function captureBun(bun: BunLike, take: TakeStdBytes): void {
  const std = bunStd;
  std.set(bun.stdout, 1).set(bun.stderr, 2);
  const fdOf = (dest: unknown): 1 | 2 | undefined =>
    dest === 1 || dest === 2 ? dest : dest !== null && typeof dest === "object" ? std.get(dest) : undefined;
  replace(bun, "write", (original) => function write(this: unknown, dest, ...rest) {
    const fd = fdOf(dest);
    return fd === undefined ? original.call(this, dest, ...rest) : takeData(take, fd, rest[0]);
  });
  // Bun.file(2) is a new object each call: remembered so Bun.write and its methods know it.
  replace(bun, "file", (original) => function file(this: unknown, path, ...rest) {
    const made = original.call(this, path, ...rest);
    if ((path === 1 || path === 2) && made !== null && typeof made === "object") std.set(made, path);
    return made;
  });
  const proto = Object.getPrototypeOf(bun.stderr) as object;
  replace(proto, "write", (original) => function write(this: object, ...rest) {
    const fd = std.get(this);
    return fd === undefined ? original.call(this, ...rest) : takeData(take, fd, rest[0]);
  });
  replace(proto, "writer", (original) => function writer(this: object, ...rest) {
    const fd = std.get(this);
    return fd === undefined ? original.call(this, ...rest) : stdWriter(take, fd);
  });
}

function captureDeno(deno: DenoLike, take: TakeStdBytes): void {
  for (const [name, fd] of [["stdout", 1], ["stderr", 2]] as const) {
    const stream = deno[name];
    if (stream === undefined) continue;
    // Stdout and Stderr are classes of their own: their prototypes hold only these writers.
    const proto = Object.getPrototypeOf(stream) as object;
    replace(proto, "write", (original) => function write(this: unknown, ...rest) {
      return this === stream ? Promise.resolve(take(fd, bytesOf(rest[0]))) : original.call(this, ...rest);
    });
    replace(proto, "writeSync", (original) => function writeSync(this: unknown, ...rest) {
      return this === stream ? take(fd, bytesOf(rest[0])) : original.call(this, ...rest);
    });
    // Its `writable` writes below write(): for the thread's stream, one of our own that takes each chunk.
    const getter = Object.getOwnPropertyDescriptor(proto, "writable")?.get;
    if (getter === undefined) continue;
    let writable: WritableStream<Uint8Array> | undefined;
    try {
      Object.defineProperty(proto, "writable", {
        configurable: true,
        get(this: unknown) {
          if (this !== stream) return getter.call(this);
          return (writable ??= new WritableStream<Uint8Array>({ write: (chunk) => void take(fd, bytesOf(chunk)) }));
        },
      });
    } catch {
      // Not configurable on this Deno: left as it is.
    }
  }
}

/** Replaces target[name] if it is a function and the runtime lets us. */
export function replace(target: object, name: string, make: (original: Fn) => Fn): void {
  const slots = target as Record<string, unknown>;
  const original = slots[name];
  if (typeof original !== "function") return;
  try {
    slots[name] = make(original as Fn);
  } catch {
    // Read-only on this runtime version: left as it is.
  }
}

/** Bun.write's data for fd 1 or 2: a Promise of its byte count, as Bun.write returns. */
function takeData(take: TakeStdBytes, fd: 1 | 2, data: unknown): Promise<number> {
  if (typeof data === "string" || ArrayBuffer.isView(data) || data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
    return Promise.resolve(take(fd, bytesOf(data)));
  }
  // A Blob (a BunFile too), a Response, or an array of parts: read, then taken.
  const body = data as { arrayBuffer?: () => Promise<ArrayBuffer> } | null | undefined;
  const read = typeof body?.arrayBuffer === "function"
    ? body.arrayBuffer()
    : Array.isArray(data) ? new Blob(data as BlobPart[]).arrayBuffer() : Promise.resolve(new TextEncoder().encode(String(data)).buffer);
  return read.then((buffer) => take(fd, new Uint8Array(buffer)));
}

/** What Bun.stdout.writer() returns, for a plugin: a FileSink whose writes are taken. */
function stdWriter(take: TakeStdBytes, fd: 1 | 2): Writer {
  return {
    write: (chunk) => take(fd, bytesOf(chunk)),
    flush: () => 0,
    end: () => 0,
    start: () => undefined,
    ref: () => undefined,
    unref: () => undefined,
    close: () => undefined,
  };
}

function bytesOf(data: unknown): Uint8Array {
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data);
  return new TextEncoder().encode(String(data));
}
