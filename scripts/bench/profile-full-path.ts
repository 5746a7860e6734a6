// Entry for profiling the full path (docs/performance.md): 5,000 echo jobs at concurrency 16
// through the in-process controller with its store on tmpfs, so CPU, not fsync, is what shows.
// bun --cpu-prof --cpu-prof-md --cpu-prof-dir=/tmp/prof scripts/bench/profile-full-path.ts
// bun scripts/bench/profile-buckets.ts /tmp/prof/*.cpuprofile

import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { fullPathThroughput } from "./full-path-bench.ts";

const parentDir = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const result = await fullPathThroughput({ parentDir, concurrency: 16, warmupJobs: 200, jobs: 5000 });
console.log(`${Math.round(result.perSecond)} jobs/s with the store in ${parentDir}`, result.writes);
