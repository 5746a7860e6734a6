// What one durable write costs on a directory's file system: append ~300 bytes + fsync on an
// open file (the controller's journal), and open + append + fsync + close (its per-job event files).

import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import * as path from "node:path";
import { median } from "./stats.ts";

export interface FsyncCost {
  appendFsyncMs: number;
  openAppendFsyncCloseMs: number;
}

export function probeFsync(parentDir: string, count = 300): FsyncCost {
  const dir = mkdtempSync(path.join(parentDir, "edge-runner-bench-fsync-"));
  const line = Buffer.from(`${JSON.stringify({ t: "job", pad: "x".repeat(280) })}\n`);
  try {
    const journal = openSync(path.join(dir, "journal.jsonl"), "a", 0o600);
    const append: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      writeSync(journal, line);
      fsyncSync(journal);
      append.push(performance.now() - t);
    }
    closeSync(journal);
    const perFile: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      const fd = openSync(path.join(dir, `job_${i % 50}.jsonl`), "a", 0o600);
      writeSync(fd, line);
      fsyncSync(fd);
      closeSync(fd);
      perFile.push(performance.now() - t);
    }
    return { appendFsyncMs: median(append), openAppendFsyncCloseMs: median(perFile) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
