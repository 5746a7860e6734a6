// CPU time a process has used so far, all its threads, in milliseconds: the sum of the
// scheduler's run time per task (/proc/<pid>/task/*/schedstat, nanoseconds). Unlike wall time it
// barely moves when other work shares the cores, so the start-up rows report it beside.

import { readdirSync, readFileSync } from "node:fs";

export function cpuTimeMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e6;
}
