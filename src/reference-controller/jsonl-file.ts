// JSON-lines files read back a line at a time (src/util/read-lines.ts, never whole: a journal has
// no size limit) so that a line torn by a crash mid-write is skipped with a warning (and cut off so
// the next append is clean), a corrupt line (one that does not parse, or is longer than any record
// its writer writes) is skipped and logged, and whole files replaced atomically.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import { readLinesSync, type LineRead } from "../util/read-lines.ts";

export interface ReadJsonlResult {
  values: unknown[];
  /** Lines that did not parse or were over the cap (a torn last line, or corruption elsewhere). */
  skipped: number;
}

/**
 * Reads every line of `file` (missing file: none), holding at most `maxLineBytes` of one line.
 * Never throws on bad content: a line over the cap is a corrupt line, and so is skipped, like
 * one that does not parse; the bytes after the last newline are a torn line, cut off.
 */
export function readJsonl(file: string, logger: Logger, maxLineBytes: number): ReadJsonlResult {
  const values: unknown[] = [];
  let skipped = 0;
  let torn: LineRead | undefined;
  try {
    for (const line of readLinesSync(file, { maxLineBytes })) {
      if (line.kind === "torn") {
        torn = line;
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
  if (torn !== undefined) {
    skipped++;
    logger.warn("Skipping a torn last line (a crash mid-write) in a journal file", { file, bytes: torn.bytes });
    fs.truncateSync(file, torn.offset);
  }
  return { values, skipped };
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
