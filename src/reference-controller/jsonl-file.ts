// JSON-lines files read back so that a line torn by a crash mid-write is skipped with a warning
// (and cut off so the next append is clean), and whole files replaced atomically.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";

export interface ReadJsonlResult {
  values: unknown[];
  /** Lines that did not parse (a torn last line, or corruption elsewhere). */
  skipped: number;
}

/** Reads every line of `file` (missing file: none). Never throws on bad content. */
export function readJsonl(file: string, logger: Logger): ReadJsonlResult {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { values: [], skipped: 0 };
    throw error;
  }
  const values: unknown[] = [];
  let skipped = 0;
  const lines = text.split("\n");
  const complete = text.endsWith("\n") || text === "";
  // The piece after the last newline is a write that never finished.
  const torn = complete ? undefined : lines.pop();
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      values.push(JSON.parse(line));
    } catch {
      skipped++;
      logger.error("Skipping a corrupt line in a journal file", { file, line: index + 1 });
    }
  });
  if (torn !== undefined) {
    skipped++;
    logger.warn("Skipping a torn last line (a crash mid-write) in a journal file", { file, bytes: torn.length });
    fs.truncateSync(file, Buffer.byteLength(text) - Buffer.byteLength(torn));
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
