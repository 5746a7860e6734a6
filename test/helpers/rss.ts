// A process's resident memory from /proc (Linux), in MiB: the figure the memory-bound tests state.

import * as fs from "node:fs";

export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}
