// One behaviour for "the store cannot be written", whatever the write site (journal, event
// segment, snapshot, secrets file): the error names the cause, changes are refused with 507 (no
// space) or 503 (anything else), reads and health keep being served, and a probe notices when
// writing works again (docs/reliability.md).

import * as fs from "node:fs";
import * as path from "node:path";
import { EdgeError } from "../errors.ts";
import type { Timers } from "../util/time.ts";

const NO_SPACE = new Set(["ENOSPC", "EDQUOT"]);

/** The errno code of a failed write, if it has one. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** Whether `error` is a write that found no space (a full disk, or a quota). */
export function isNoSpace(error: unknown): boolean {
  const code = errnoOf(error);
  return code !== undefined && NO_SPACE.has(code);
}

/** The least room the space probe waits for (its default write, a batch's usual need many times over). */
export const PROBE_BYTES = 1024 * 1024;

/** Bytes a failed write needed, by its error: the probe waits for that much room. */
const ROOM_NEEDED = new WeakMap<object, number>();

/** Notes that `error` failed a write of `bytes` (the largest noted counts). */
export function noteRoomNeeded(error: unknown, bytes: number): void {
  if (typeof error !== "object" || error === null) return;
  ROOM_NEEDED.set(error, Math.max(bytes, ROOM_NEEDED.get(error) ?? 0));
}

/**
 * The room the store needs to be written again after `error`: what the failed write needed, at
 * least PROBE_BYTES. The store itself needs only its data (append-file.ts gives up its zeros on a
 * full disk), so a probe that writes this much and a restarted store agree.
 */
export function roomNeededAfter(error: unknown): number {
  const noted = typeof error === "object" && error !== null ? ROOM_NEEDED.get(error) : undefined;
  return Math.max(PROBE_BYTES, noted ?? 0);
}

/** The refusal for a change while the store cannot be written: 507 for no space, 503 otherwise. */
export function storeRefusal(action: string, cause: Error): EdgeError {
  const noSpace = isNoSpace(cause);
  const why = noSpace ? "its disk is full" : "it cannot be written";
  return new EdgeError(noSpace ? "store_full" : "store_unavailable",
    `Cannot ${action}: the controller's store is refusing changes because ${why} (${clipMessage(cause.message)})`, { cause, retryable: true });
}

/** Whether `error` is a write failing for a reason of the disk (space, permissions, I/O). */
export function isStoreWriteError(error: unknown): boolean {
  const code = errnoOf(error);
  return code !== undefined && ["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EFBIG", "ENOENT", "ENOTDIR"].includes(code);
}

function clipMessage(message: string): string {
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

export interface SpaceProbeOptions {
  /** The directory whose writability is probed. */
  dir: string;
  timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  intervalMs: number;
  /** Bytes written (and fsync'd) per probe: room the controller needs to start again (default PROBE_BYTES; see `roomNeededAfter`). */
  bytes?: number;
  onWritable: () => void;
}

/**
 * Writes, fsyncs and removes a probe file every `intervalMs` until that works, then calls
 * `onWritable` once. Its file is removed whatever happens.
 */
export class SpaceProbe {
  readonly #options: SpaceProbeOptions;
  #handle: unknown;
  #stopped = false;

  constructor(options: SpaceProbeOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#handle !== undefined) this.#options.timer.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  /** One probe now: whether a write of `bytes` and its fsync succeeded. */
  probe(): boolean {
    const file = path.join(this.#options.dir, `.write-probe-${process.pid}`);
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, "w", 0o600);
      // To the last byte: a disk with less room writes part and says how much, it does not throw.
      const buffer = Buffer.alloc(this.#options.bytes ?? PROBE_BYTES);
      for (let done = 0; done < buffer.length;) done += fs.writeSync(fd, buffer, done, buffer.length - done);
      fs.fsyncSync(fd);
      return true;
    } catch {
      return false;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#handle = this.#options.timer.setTimeout(() => {
      this.#handle = undefined;
      if (this.#stopped) return;
      if (this.probe()) this.#options.onWritable();
      else this.#schedule();
    }, this.#options.intervalMs);
  }
}
