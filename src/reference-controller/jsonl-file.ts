// JSON-lines files read back a line at a time (src/util/read-lines.ts, never whole: a journal has
// no size limit) so that a line torn by a crash mid-write is skipped with a warning (and cut off,
// with the zeros a journal is grown in ahead of its data, so the next append is clean), a corrupt
// line (one that does not parse, or is longer than any record its writer writes) is skipped and
// logged, and whole files replaced atomically.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import { readLinesSync, type LineRead } from "../util/read-lines.ts";
import { noteRoomNeeded } from "./store-failure.ts";

export interface ReadJsonlResult {
  values: unknown[];
  /** Lines that did not parse or were over the cap (a torn last line, or corruption elsewhere). */
  skipped: number;
  /** Why the file could not be cut where its data ends (see `cutAfterData`): it must not be written. */
  uncut?: Error;
}

/**
 * Reads every line of `file` (missing file: none), holding at most `maxLineBytes` of one line.
 * Never throws on bad content: a line over the cap is a corrupt line, and so is skipped, like
 * one that does not parse; the bytes after the last newline are a torn line, cut off.
 * `zeroEndsData`: a file the controller grows ahead of its data (append-file.ts); not for files of
 * earlier versions.
 */
export function readJsonl(file: string, logger: Logger, maxLineBytes: number, zeroEndsData = false): ReadJsonlResult {
  const values: unknown[] = [];
  let skipped = 0;
  const end: DataEnd = {};
  try {
    for (const line of readLinesSync(file, { maxLineBytes, zeroEndsData })) {
      if (noteDataEnd(end, line)) {
        continue;
      } else if (line.kind === "too_long") {
        skipped++;
        logger.error("Skipping a corrupt line in a journal file", { file, line: line.number, bytes: line.bytes, reason: `over the cap of ${maxLineBytes} bytes for a line` });
      } else if (line.text.trim() !== "") {
        try {
          values.push(JSON.parse(line.text));
        } catch {
          skipped++;
          logger.error("Skipping a corrupt line in a journal file", { file, line: line.number });
        }
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { values: [], skipped: 0 };
    throw error;
  }
  if (end.torn !== undefined) skipped++;
  const uncut = cutAfterData(file, logger, "a journal file", end);
  return uncut === undefined ? { values, skipped } : { values, skipped, uncut };
}

/** How a journal file's data ended, as read: a torn last line, the zeros past the data (append-file.ts). */
export interface DataEnd {
  torn?: LineRead & { kind: "torn" };
  zeros?: LineRead & { kind: "zeros" };
}

/** Notes a torn last line or the zeros past the data in `end`; true when `line` was one of them. */
export function noteDataEnd(end: DataEnd, line: LineRead): line is LineRead & { kind: "torn" | "zeros" } {
  if (line.kind === "torn") end.torn = line;
  else if (line.kind === "zeros") end.zeros = line;
  else return false;
  return true;
}

/**
 * Cuts `file` where its complete lines end, so the next append is clean: a torn last line (with a
 * warning) and the zeros it was grown in. Bytes that are not zero past the zeros are, in a file
 * this version grew, a batch a crash kept from its sync (never acknowledged): not replayed. A file
 * an earlier version wrote cannot have been grown ahead, but a crash on a file system that shows
 * unwritten blocks as zeros could have left some, with records acknowledged after them: so the
 * whole file is first kept beside it (`<file>.kept-<time>`, named in the warning), never destroyed.
 *
 * When that copy cannot be made (a full disk), the partial copy is removed and nothing is cut: the
 * error is returned (with the room the copy needs, for the space probe), and the caller opens the
 * file for reads only and fails the store, which serves reads and waits for the disk like one
 * whose write failed; the next start copies and cuts. Replay stops at the zeros either way.
 */
export function cutAfterData(file: string, logger: Logger, label: string, end: DataEnd): Error | undefined {
  const { torn, zeros } = end;
  if (torn !== undefined) logger.warn(`Skipping a torn last line (a crash mid-write) in ${label}`, { file, bytes: torn.bytes });
  if (zeros !== undefined && zeros.nonZero > 0) {
    const kept = `${file}.kept-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    try {
      copyDurably(file, kept);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      try {
        fs.rmSync(kept, { force: true });
      } catch {
        // Best effort: a partial copy left is a file too many, never one replayed.
      }
      noteRoomNeeded(error, zeros.offset + zeros.bytes);
      logger.error(`Cannot keep a copy of ${label} before cutting what follows the end of its data: it is left uncut and the store refuses changes until a restart can copy it`, { file, error: error.message, bytes: zeros.offset + zeros.bytes });
      return error;
    }
    logger.warn(`Not replaying what follows the end of the data in ${label} (a write never acknowledged, kept in part by a crash); the whole file is kept beside it`, { file, kept, bytes: zeros.bytes, nonZeroBytes: zeros.nonZero });
  }
  const cut = torn?.offset ?? zeros?.offset;
  if (cut !== undefined) fs.truncateSync(file, cut);
  return undefined;
}

/** Copies `file` to `copy` and makes the copy and its name durable. */
function copyDurably(file: string, copy: string): void {
  fs.copyFileSync(file, copy);
  const fd = fs.openSync(copy, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  syncDirectory(path.dirname(file));
}

/** Replaces `file` atomically: write a temp file, fsync it, rename over, fsync the directory. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    // A full disk (or any failure) leaves the old file as it was and no temp file behind.
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  syncDirectory(path.dirname(file));
}

/** Makes a rename or a new file's directory entry durable (a no-op where the OS refuses it). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for fsync; its rename is durable enough for us.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
